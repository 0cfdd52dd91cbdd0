import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { WindowReservoir } from '../../../models/anomaly/autoencoder/window-reservoir.js';

describe('window reservoir (training windows sampled over hours)', () => {
  it('keeps min(seen, capacity) of the offered windows, intact and oldest first (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 40 }), fc.integer({ min: 0, max: 300 }), fc.integer({ min: 1, max: 5 }), fc.nat(), (capacity, offered, dims, seed) => {
        const r = new WindowReservoir(capacity, dims, seed);
        for (let i = 0; i < offered; i += 1) r.offer(Float64Array.from({ length: dims }, (_, d) => i * 10 + d), i * 7);
        const { data, count, positions } = r.take();
        expect(count).toBe(Math.min(offered, capacity));
        for (let k = 0; k < count; k += 1) {
          const i = (data[k * dims] as number) / 10;
          expect(Number.isInteger(i)).toBe(true);
          expect(positions[k]).toBe(i * 7);
          for (let d = 0; d < dims; d += 1) expect(data[k * dims + d]).toBe(i * 10 + d);
          if (k > 0) expect(positions[k] as number).toBeGreaterThan(positions[k - 1] as number);
        }
      }),
    );
  });

  it('samples the whole period, not just its start or end', () => {
    const r = new WindowReservoir(1000, 1, 1);
    for (let i = 0; i < 100_000; i += 1) r.offer(Float64Array.of(i), i);
    const { positions } = r.take();
    const perTenth = Array.from({ length: 10 }, (_, t) => positions.filter((p) => Math.floor(p / 10_000) === t).length);
    for (const n of perTenth) expect(n).toBeGreaterThan(70); // 100 expected; binomial sd ~9.5
  });
});
