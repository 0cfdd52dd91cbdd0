import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ProblemList } from '../../../models/datasets/dataset-error.js';
import { formatLabelLine, parseLabelFile, parseLabelLine } from '../../../models/datasets/yolo-labels.js';
import type { LabelledBox } from '../../../models/datasets/types.js';

/** Boxes inside the image, as a labelling tool writes them. */
const boxInside = (classes: number): fc.Arbitrary<LabelledBox> =>
  fc
    .record({ classId: fc.nat({ max: classes - 1 }), x0: fc.double({ min: 0, max: 0.98, noNaN: true }), y0: fc.double({ min: 0, max: 0.98, noNaN: true }), w: fc.double({ min: 0.005, max: 1, noNaN: true }), h: fc.double({ min: 0.005, max: 1, noNaN: true }) })
    .map(({ classId, x0, y0, w, h }) => {
      const ww = Math.min(w, 1 - x0);
      const hh = Math.min(h, 1 - y0);
      return { classId, cx: x0 + ww / 2, cy: y0 + hh / 2, w: ww, h: hh };
    });

describe('YOLO label lines', () => {
  it('keep a box inside the image exactly as written', () => {
    fc.assert(
      fc.property(boxInside(3), (box) => {
        fc.pre(box.cx - box.w / 2 >= 0 && box.cx + box.w / 2 <= 1 && box.cy - box.h / 2 >= 0 && box.cy + box.h / 2 <= 1);
        expect(parseLabelLine(`${box.classId} ${box.cx} ${box.cy} ${box.w} ${box.h}`, 3)).toEqual(box);
      }),
    );
  });

  it('read back what formatLabelLine writes, to its 6 decimals', () => {
    fc.assert(
      fc.property(boxInside(7), (box) => {
        const back = parseLabelLine(formatLabelLine(box), 7);
        if (typeof back === 'string') throw new Error(back);
        expect(back.classId).toBe(box.classId);
        for (const k of ['cx', 'cy', 'w', 'h'] as const) expect(Math.abs(back[k] - box[k])).toBeLessThanOrEqual(1e-6);
      }),
    );
  });

  it('keep every box inside the image, whatever the line (or say what is wrong with it)', () => {
    const field = fc.oneof(fc.double({ noNaN: false }).map(String), fc.integer({ min: -3, max: 12 }).map(String), fc.string({ maxLength: 4 }), fc.constantFrom('0', '1', '0.5', '1e-3', 'nan', '', '-0'));
    fc.assert(
      fc.property(fc.array(field, { maxLength: 11 }), fc.constantFrom(' ', '  ', '\t'), (fields, sep) => {
        const line = fields.join(sep).trim();
        if (line === '') return;
        const r = parseLabelLine(line, 10);
        if (typeof r === 'string') return;
        expect(Number.isInteger(r.classId) && r.classId >= 0 && r.classId < 10).toBe(true);
        expect(r.w).toBeGreaterThan(0);
        expect(r.h).toBeGreaterThan(0);
        expect(r.cx - r.w / 2).toBeGreaterThanOrEqual(-1e-12);
        expect(r.cx + r.w / 2).toBeLessThanOrEqual(1 + 1e-12);
        expect(r.cy - r.h / 2).toBeGreaterThanOrEqual(-1e-12);
        expect(r.cy + r.h / 2).toBeLessThanOrEqual(1 + 1e-12);
      }),
      { numRuns: 500 },
    );
  });

  it('say what is wrong with a bad line', () => {
    expect(parseLabelLine('0 0.5 1.2 0.1 0.1', 2)).toMatch(/^cy 1\.2 is outside \[0, 1\]/);
    expect(parseLabelLine('0 120 80 30 20', 2)).toMatch(/^cx 120 is outside \[0, 1\]: YOLO labels are shares of the image's width and height, not pixels/);
    expect(parseLabelLine('3 0.5 0.5 0.1 0.1', 2)).toBe('class 3 is beyond the 2 class names (ids 0..1): add its name to data.yaml or fix the id');
    expect(parseLabelLine('0 0.5 0.5 0.1', 2)).toMatch(/^expected 5 fields "class cx cy w h" .* got 4/);
    expect(parseLabelLine('0 0.5 0.5 0.1 0.1 0.3', 2)).toMatch(/got 6/);
    expect(parseLabelLine('0 0.5 abc 0.1 0.1', 2)).toBe('field 3 (cy) is not a number: "abc"');
    expect(parseLabelLine('1.5 0.5 0.5 0.1 0.1', 2)).toMatch(/^class 1\.5 is not a class id/);
    expect(parseLabelLine('-1 0.5 0.5 0.1 0.1', 2)).toMatch(/^class -1 is not a class id/);
    expect(parseLabelLine('0 0.5 0.5 0 0.1', 2)).toMatch(/w and h must be above 0/);
  });

  it('take a polygon line (segmentation labels) as the box around its points', () => {
    const box = parseLabelLine('1 0.1 0.2 0.5 0.2 0.5 0.6 0.1 0.6', 2) as LabelledBox;
    expect(box.classId).toBe(1);
    for (const [k, v] of [['cx', 0.3], ['cy', 0.4], ['w', 0.4], ['h', 0.4]] as const) expect(box[k]).toBeCloseTo(v, 12);
  });

  it('cut a box that runs past the edge at the edge, and let float rounding past 1 through', () => {
    const cut = parseLabelLine('0 0.95 0.5 0.2 0.2', 1) as LabelledBox;
    expect(cut.cx).toBeCloseTo(0.925, 12);
    expect(cut.w).toBeCloseTo(0.15, 12);
    expect(parseLabelLine('0 0.5 0.5 1.0000001 1', 1)).toEqual({ classId: 0, cx: 0.5, cy: 0.5, w: 1, h: 1 });
  });

  it('read a file line by line: a byte-order mark and blank lines skipped, a repeated line kept once, each bad line reported with its number', () => {
    const problems = new ProblemList();
    const boxes = parseLabelFile('\uFEFF0 0.5 0.5 0.2 0.2\r\n\n1 0.2 0.2 0.1 0.1\n0 0.5 0.5 0.2 0.2\n7 0.5 0.5 0.1 0.1\n0 0.5\n', 'labels/train/a.txt', 2, problems);
    expect(boxes.map((b) => b.classId)).toEqual([0, 1]);
    expect(() => problems.throwIfAny()).toThrow(/labels\/train\/a\.txt:5: class 7 is beyond[\s\S]*labels\/train\/a\.txt:6: expected 5 fields/);
  });
});
