import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Tensor, TensorSpec } from '../../../models/engine/engine.js';
import { DECODERS, selectDecoder } from '../../../models/vision/decoders/select.js';

const out = (name: string, ...shape: (number | string)[]): TensorSpec => ({ name, type: 'float32', shape });
const pick = (outputs: TensorSpec[], o: Parameters<typeof selectDecoder>[1] = {}): string => {
  const s = selectDecoder(outputs, o);
  return s.ok === true ? `${s.decoder.layout}:${String(s.decoder.classes)}` : s.ok === false ? `${s.key}: ${s.reason}` : 'undetermined';
};

describe('output layouts: which decoder reads a model', () => {
  it('auto-detects the layouts of real exports', () => {
    expect(pick([out('output0', 1, 84, 8400)])).toBe('yolov8:80'); // yolov8n, 640
    expect(pick([out('output0', 1, 5, 240)])).toBe('yolov8:1'); // the built-in defect detector
    expect(pick([out('output0', 1, 25200, 85)])).toBe('yolov5:80'); // yolov5s, 640
    expect(pick([out('scores', 1, 4420, 2), out('boxes', 1, 4420, 4)])).toBe('ssd:1'); // UltraFace RFB-320
    expect(pick([out('boxes', 1, 4420, 4), out('scores', 1, 4420, 2)])).toBe('ssd:1');
    expect(pick([out('logits', 1, 1000)])).toBe('classification:1000');
    expect(pick([out('prob', 1, 1000, 1, 1)])).toBe('classification:1000');
    // Dynamic axes as Ultralytics writes them with dynamic=True: the class count is still known.
    expect(pick([out('output0', 'batch', 84, 'anchors')])).toBe('yolov8:80');
  });

  it('UltraFace is no longer read as YOLOv8 with 4416 classes, whichever output comes first', () => {
    for (const outputs of [[out('scores', 1, 4420, 2), out('boxes', 1, 4420, 4)], [out('a', 1, 4420, 2), out('b', 1, 4420, 4)]]) {
      expect(pick(outputs)).toBe('ssd:1');
      expect(pick(outputs, { layout: 'yolov8' })).toMatch(/^model: outputs .* fit not yolov8 \(yolov8 has one output \[1, 4 \+ C, N\], the model has 2\)/);
    }
  });

  it('checks classNames against the class count, and uses it to choose between layouts that both fit', () => {
    expect(pick([out('output0', 1, 5, 240)], { classNames: ['part', 'defective-part'] })).toBe('classNames: classNames has 2 names, the model (output0 [1, 5, 240]) has 1 class as yolov8');
    expect(pick([out('scores', 1, 4420, 2), out('boxes', 1, 4420, 4)], { classNames: ['face'] })).toBe('ssd:1');
    // Only the class count tells these apart: [1, 85, 85].
    expect(pick([out('output0', 1, 85, 85)])).toBe('layout: outputs output0 [1, 85, 85] fit 81 classes as yolov8 and 80 classes as yolov5 alike: set layout (yolov8 or yolov5)');
    expect(pick([out('output0', 1, 85, 85)], { classNames: Array.from({ length: 80 }, (_, i) => `c${i}`) })).toBe('yolov5:80');
    expect(pick([out('output0', 1, 85, 85)], { layout: 'yolov8' })).toBe('yolov8:81');
  });

  it("uses the metadata's names when their count fits, and says so when it does not", () => {
    const s = selectDecoder([out('output0', 1, 6, 100)], { metadataNames: ['a', 'b'] });
    expect(s).toMatchObject({ ok: true, classNames: ['a', 'b'], namesFrom: 'metadata', notes: [] });
    const t = selectDecoder([out('output0', 1, 6, 100)], { metadataNames: ['a', 'b', 'c'] });
    expect(t).toMatchObject({ ok: true, classNames: undefined, namesFrom: undefined });
    expect(t.ok === true && t.notes[0]).toMatch(/metadata names 3 classes, its outputs \(output0 \[1, 6, 100\]\) have 2 classes as yolov8: names not used/);
    // The config's names win over the metadata's.
    expect(selectDecoder([out('output0', 1, 6, 100)], { classNames: ['x', 'y'], metadataNames: ['a', 'b'] })).toMatchObject({ classNames: ['x', 'y'], namesFrom: 'config' });
  });

  it('refuses outputs that fit no layout, naming the shapes and why each layout does not fit; hints at the other task', () => {
    expect(pick([out('output0', 2, 3, 4)])).toBe(
      'model: outputs output0 [2, 3, 4] fit no vision layout (yolov8 is [1, 4 + C, N] with a batch of 1, output0 [2, 3, 4] has 2; yolov5 is [1, N, 5 + C] with a batch of 1, output0 [2, 3, 4] has 2; ssd has two outputs, scores [1, N, 1 + C] and boxes [1, N, 4], the model has 1 output; classification is [1, C], output0 [2, 3, 4] is not)',
    );
    expect(pick([out('logits', 1, 1000)], { task: 'detection' })).toMatch(/fit no detection layout \(.*\); they fit classification: is it task classification\?$/);
    expect(pick([out('output0', 1, 84, 8400)], { task: 'classification' })).toMatch(/fit no classification layout .*they fit yolov8, yolov5: is it task detection\?$/);
    expect(pick([out('output0', 1, 84, 8400)], { task: 'classification', layout: 'yolov8' })).toBe('task: layout yolov8 is not a layout of task classification');
    expect(pick([out('a', 1, 10, 4), out('b', 1, 10, 4)])).toMatch(/ssd: cannot tell boxes from scores in a \[1, 10, 4\] and b \[1, 10, 4\] \(name one of them "boxes"\)/);
  });

  it('leaves the choice open when symbolic dimensions hide it (at --check), and never when shapes are known', () => {
    expect(pick([out('output0', 'b', 'c', 'n')])).toBe('undetermined');
    expect(pick([out('output0')])).toBe('undetermined');
  });

  // One contract for every decoder (decoders/*.ts).
  for (const d of DECODERS) {
    describe(`${d.layout} decoder contract`, () => {
      const dim = fc.oneof(fc.integer({ min: 1, max: 12 }), fc.constantFrom('batch', 'n'));
      const spec = fc.record({ name: fc.constantFrom('output0', 'boxes', 'scores', 'x'), type: fc.constant('float32'), shape: fc.array(dim, { maxLength: 5 }) });

      it('fit never throws: a decoder or a reason naming its layout (property)', () => {
        fc.assert(
          fc.property(fc.array(spec, { maxLength: 3 }), (outputs) => {
            const f = d.fit(outputs);
            if (f.ok) expect(f.decoder.layout).toBe(d.layout);
            else expect(f.reason).toContain(d.layout);
          }),
          { numRuns: 300 },
        );
      });

      it('decodes all-zero outputs of the fitted shapes to nothing above the confidence, and refuses other shapes (property)', () => {
        fc.assert(
          fc.property(fc.array(fc.record({ name: fc.constantFrom('output0', 'boxes', 'scores'), type: fc.constant('float32'), shape: fc.array(fc.integer({ min: 1, max: 12 }), { minLength: 2, maxLength: 4 }) }), { minLength: 1, maxLength: 2 }), (outputs) => {
            const f = d.fit(outputs);
            if (!f.ok || new Set(outputs.map((o) => o.name)).size !== outputs.length) return;
            const tensors: Record<string, Tensor> = {};
            for (const o of outputs) tensors[o.name] = { data: new Float32Array((o.shape as number[]).reduce((a, b) => a * b, 1)), dims: o.shape as number[] };
            const r = f.decoder.decode(tensors, { confidence: 0.5, input: { width: 64, height: 48 } });
            if (r.kind === 'boxes') expect(r.candidates).toEqual([]);
            else expect(r.probabilities.length).toBe(f.decoder.classes);
            // A tensor of another shape than fitted is an E_MODEL_OUTPUT, not garbage.
            const first = outputs[0] as TensorSpec;
            const wrong = { ...tensors, [first.name]: { data: new Float32Array(7 * 3), dims: [1, 7, 3, 1, 1, 1] } };
            expect(() => f.decoder.decode(wrong, { confidence: 0.5, input: { width: 64, height: 48 } })).toThrow(expect.objectContaining({ code: 'E_MODEL_OUTPUT' }) as unknown as Error);
          }),
          { numRuns: 300 },
        );
      });
    });
  }
});
