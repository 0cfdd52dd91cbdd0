import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MAX_MISSING, SubscriptionTracker } from '../../../devices/opcua/sequence-tracker.js';

describe('SubscriptionTracker', () => {
  it('accepts every sequence number once, whatever the order and repeats; what never came is an open gap', () => {
    fc.assert(
      fc.property(fc.array(fc.boolean(), { minLength: 1, maxLength: 200 }), fc.array(fc.integer({ min: 1, max: 200 }), { maxLength: 50 }), fc.array(fc.nat(), { minLength: 250, maxLength: 250 }), (keep, extra, keys) => {
        // 1 arrives first (a subscription's first message); each later number arrives or not.
        const arrived = keep.map((_, i) => i + 1).filter((s) => s === 1 || keep[s - 1] === true);
        // The rest in a random order, with repeats of numbers that did arrive mixed in.
        const order = [...arrived.slice(1), ...extra.filter((e) => arrived.includes(e))]
          .map((s, i) => ({ s, k: keys[i] ?? 0 }))
          .sort((a, b) => a.k - b.k)
          .map((x) => x.s);
        const t = new SubscriptionTracker();
        t.reset(7);
        const accepted: number[] = [];
        for (const s of [1, ...order]) if (t.accept(s)) accepted.push(s);
        expect(accepted.sort((a, b) => a - b)).toEqual(arrived);
        const max = Math.max(...arrived);
        expect(t.gapList().sort((a, b) => a - b)).toEqual(Array.from({ length: max }, (_, i) => i + 1).filter((s) => !arrived.includes(s)));
        expect(t.lost).toBe(0);
      }),
    );
  });

  it('a gap given up is counted lost; a new subscription gives up the open gaps of the old one', () => {
    const t = new SubscriptionTracker();
    t.reset(1);
    for (const s of [1, 2, 5, 6]) t.accept(s);
    expect(t.gapList()).toEqual([3, 4]);
    t.giveUp(3);
    expect(t.lost).toBe(1);
    expect(t.accept(3)).toBe(false);
    t.reset(2);
    expect(t.lost).toBe(2);
    expect(t.accept(1)).toBe(true);
  });

  it('remembers at most MAX_MISSING gaps, counting the ones it forgets as lost', () => {
    const t = new SubscriptionTracker();
    t.reset(1);
    t.accept(1);
    t.accept(MAX_MISSING + 12);
    expect(t.gapCount).toBe(MAX_MISSING);
    expect(t.lost).toBe(10);
  });
});
