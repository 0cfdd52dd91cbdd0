import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { modelClassNames, parseClassNames } from '../../../models/vision/class-names.js';
import { pythonNames } from './layout-models.js';

describe("class names from a model's metadata", () => {
  it('reads what Python 3 writes for str(names) (vector made with python3: quotes, apostrophes, escapes, non-ASCII)', () => {
    // python3 -c "print(str({0:'person',1:\"people's car\",2:'say \"hi\"',3:'both \' and \"',4:'tab\there',5:'back\\\\slash',6:'ünïcödé 人',7:'bell\x07',8:'nl\nx',9:'\u200b zero-width',10:'emoji 🙂'}))"
    const written = `{0: 'person', 1: "people's car", 2: 'say "hi"', 3: 'both \\' and "', 4: 'tab\\there', 5: 'back\\\\slash', 6: 'ünïcödé 人', 7: 'bell\\x07', 8: 'nl\\nx', 9: '\\u200b zero-width', 10: 'emoji 🙂'}`;
    expect(parseClassNames(written)).toEqual(['person', "people's car", 'say "hi"', 'both \' and "', 'tab\there', 'back\\slash', 'ünïcödé 人', 'bell\x07', 'nl\nx', '\u200b zero-width', 'emoji 🙂']);
  });

  it('reads the start of a real YOLOv8n export, JSON, lists, ids out of order and a trailing comma', () => {
    expect(parseClassNames("{0: 'person', 1: 'bicycle', 2: 'car', 3: 'motorcycle'}")).toEqual(['person', 'bicycle', 'car', 'motorcycle']);
    expect(parseClassNames('{"0": "person", "1": "bicycle"}')).toEqual(['person', 'bicycle']);
    expect(parseClassNames("['a', \"b's\"]")).toEqual(['a', "b's"]);
    expect(parseClassNames("{1: 'b', 0: 'a',}")).toEqual(['a', 'b']);
    expect(parseClassNames(' {\n 0 : "x" \n} ')).toEqual(['x']);
    expect(parseClassNames('{}')).toEqual([]);
  });

  it('round-trips any list of names through Python dict syntax (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.string({ unit: 'binary', maxLength: 12 }), { maxLength: 30 }), (names) => {
        expect(parseClassNames(pythonNames(names))).toEqual(names);
      }),
      { numRuns: 500 },
    );
  });

  it('names what is wrong: a missing id, a repeated id, an open string, trailing text', () => {
    expect(() => parseClassNames("{0: 'a', 2: 'c'}")).toThrow(/expected class ids 0\.\.1, got 0, 2/);
    expect(() => parseClassNames("{0: 'a', 0: 'b'}")).toThrow(/each class id once \(0 is there twice\) at character 9/);
    expect(() => parseClassNames("{0: 'a")).toThrow(/expected the closing ' at character 6, got the end/);
    expect(() => parseClassNames("{0: 'a'} x")).toThrow(/expected the end at character 9/);
    expect(() => parseClassNames("{-1: 'a'}")).toThrow(/class id >= 0/);
    expect(() => parseClassNames("{0: person}")).toThrow(/expected a quoted name at character 4/);
  });

  it('never throws anything but an Error with a message, whatever the text (property)', () => {
    const pieces = fc.constantFrom('{', '}', '[', ']', ':', ',', "'", '"', '\\', '0', '1', ' ', 'x', '\\x', '\\u12', '-');
    fc.assert(
      fc.property(fc.oneof(fc.string({ unit: 'binary' }), fc.array(pieces, { maxLength: 40 }).map((a) => a.join(''))), (text) => {
        try {
          const names = parseClassNames(text);
          expect(Array.isArray(names)).toBe(true);
        } catch (err) {
          expect(err).toBeInstanceOf(Error);
          expect((err as Error).message).toMatch(/^class names: expected /);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it("prefers Ultralytics' `names`, then this repo's comma-separated `classNames`, and says when `names` does not read", () => {
    expect(modelClassNames({ names: "{0: 'person'}", classNames: 'x,y' })).toEqual({ names: ['person'], key: 'names' });
    expect(modelClassNames({ classNames: 'part,defective-part,background' })).toEqual({ names: ['part', 'defective-part', 'background'], key: 'classNames' });
    expect(modelClassNames({ name: 'yolo' })).toBeUndefined();
    expect(modelClassNames({ names: '{0: person}' })).toMatchObject({ key: 'names', error: expect.stringMatching(/quoted name/) as unknown as string });
  });
});
