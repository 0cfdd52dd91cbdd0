import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FailureWindow } from '../../../models/vision/failure-window.js';
import { FrameClass } from '../../../models/vision/frame-class.js';

describe('failure window', () => {
  it('counts the failures among the last `size` outcomes, as a plain list would (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 20 }), fc.array(fc.boolean(), { maxLength: 100 }), (size, outcomes) => {
        const w = new FailureWindow(size);
        outcomes.forEach((failed, i) => {
          w.record(failed);
          const last = outcomes.slice(Math.max(0, i + 1 - size), i + 1);
          expect(w.frames).toBe(last.length);
          expect(w.failed).toBe(last.filter(Boolean).length);
          expect(w.share).toBeCloseTo(last.filter(Boolean).length / last.length, 12);
        });
      }),
    );
  });
});

describe('frame class (whole-frame classifiers)', () => {
  it('changes only after `minFrames` sure frames of another class in a row (property, against a plain restatement)', () => {
    const top = fc.option(fc.record({ classId: fc.integer({ min: 0, max: 3 }), score: fc.double({ min: 0, max: 1, noNaN: true }) }), { nil: undefined });
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 4 }), fc.array(top, { maxLength: 60 }), (minFrames, tops) => {
        const fcls = new FrameClass({ confidence: 0.5, minFrames });
        let current: number | undefined;
        tops.forEach((t, i) => {
          const change = fcls.update(t === undefined ? undefined : { ...t, className: `c${t.classId}` });
          // The class changes at frame i when frames i - minFrames + 1..i are all sure of the same class, other than the current one,
          // and the change did not already happen within that run.
          const run = tops.slice(Math.max(0, i + 1 - minFrames), i + 1);
          const id = t !== undefined && t.score >= 0.5 ? t.classId : undefined;
          const expected = id !== undefined && id !== current && run.length === minFrames && run.every((r) => r !== undefined && r.score >= 0.5 && r.classId === id);
          expect(change !== undefined).toBe(expected);
          if (change !== undefined) {
            expect(change).toEqual({ classId: id, previous: current });
            current = change.classId;
          }
        });
      }),
    );
  });
});
