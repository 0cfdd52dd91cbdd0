import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeSignedSum, embedSigned, INT8_LEVELS, maxSummands, quantiseShared, sharedScale, sumToFloats, widestLevels } from '../../../../fleet/protocol/secure-aggregation/index.js';
import { runRound } from './round-harness.js';
import { seededUniform } from './seeded.js';

function addInto(sum: Uint32Array, x: Uint32Array): void {
  for (let i = 0; i < sum.length; i += 1) sum[i] = (sum[i] as number) + (x[i] as number);
}

describe('integer-quantised updates in the uint32 ring', () => {
  it('sum int8 values of many clients mod 2^32 and read back the exact integer sum', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 12 }).chain((len) => fc.array(fc.int8Array({ minLength: len, maxLength: len }), { minLength: 1, maxLength: 30 })), (updates) => {
        const len = updates[0]!.length;
        const sum = new Uint32Array(len);
        for (const q of updates) addInto(sum, embedSigned(q));
        const expected = Int32Array.from({ length: len }, (_, i) => updates.reduce((s, q) => s + (q[i] as number), 0));
        expect(decodeSignedSum(sum, updates.length, 128)).toEqual(expected);
      }),
    );
  });

  it('stays exact at the extremes and refuses a client count whose sum could wrap', () => {
    // 16,909,320 clients all at +127 sum to 2,147,483,640: still an int32.
    expect(maxSummands(127)).toBe(16_909_320);
    const sum = Uint32Array.of((127 * 16_909_320) >>> 0, (-127 * 16_909_320) >>> 0);
    expect([...decodeSignedSum(sum, 16_909_320)]).toEqual([2_147_483_640, -2_147_483_640]);
    expect(() => decodeSignedSum(sum, 16_909_321)).toThrow(expect.objectContaining({ code: 'E_SECAGG', reason: 'invalid-params' }));
  });

  it('offer the widest levels a round can sum without overflow: n clients at the extreme still decode exactly', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 100_000 }), fc.boolean(), (clients, negative) => {
        const levels = widestLevels(clients);
        const sum = new Uint32Array(1);
        const word = embedSigned(Int32Array.of(negative ? -levels : levels));
        for (let c = 0; c < Math.min(clients, 50); c += 1) addInto(sum, word);
        // Adding the rest at once: (clients - 50) more copies of the same word, mod 2^32.
        if (clients > 50) sum[0] = (sum[0] as number) + Number((BigInt(word[0] as number) * BigInt(clients - 50)) % 0x1_0000_0000n);
        expect(decodeSignedSum(sum, clients, levels)[0]).toBe((negative ? -1 : 1) * levels * clients);
      }),
    );
    expect(widestLevels(20)).toBe(107_374_182);
  });

  it('quantise with the shared scale from the clip norm: every value within the levels, unbiased on average', () => {
    const clipNorm = 2;
    const scale = sharedScale(clipNorm);
    expect(scale).toBeCloseTo(2 / 127, 12);
    const uniform = seededUniform('unbiased');
    const value = 0.0123;
    const delta = new Float64Array(20_000).fill(value);
    const q = new Int32Array(quantiseShared(delta, scale, INT8_LEVELS, uniform).buffer);
    const mean = q.reduce((s, v) => s + v, 0) / q.length;
    // value / scale = 0.781 steps: the mean of 20,000 stochastic roundings is within 0.02 of it.
    expect(Math.abs(mean - value / scale)).toBeLessThan(0.02);
    const edge = new Int32Array(quantiseShared([clipNorm, -clipNorm, 0], scale, INT8_LEVELS, uniform).buffer);
    expect([...edge.subarray(0, 2)]).toEqual([127, -127]);
    expect(() => quantiseShared([clipNorm * 1.01], scale, INT8_LEVELS, uniform)).toThrow(/beyond the clip norm/);
    expect(() => quantiseShared([Number.NaN], scale, INT8_LEVELS, uniform)).toThrow(/not finite/);
  });

  it('compose with secure aggregation: the fleet turns the unmasked sum into float sums within one step per client', async () => {
    const clients = 6;
    const length = 300;
    const clipNorm = 1;
    const scale = sharedScale(clipNorm);
    const uniform = seededUniform('compose');
    const deltas = Array.from({ length: clients }, () => {
      const d = Float64Array.from({ length }, () => uniform() - 0.5);
      const norm = Math.hypot(...d);
      return d.map((v) => (v * clipNorm) / Math.max(norm, clipNorm));
    });
    const inputs = deltas.map((d) => quantiseShared(d, scale, INT8_LEVELS, uniform));
    const { result } = await runRound({ clients, threshold: 4, inputs }, { dropBeforeMasking: new Set(['gw-005']) });
    const floats = sumToFloats(result.sum, result.survivors.length, scale);
    for (let i = 0; i < length; i += 1) {
      const exact = deltas.slice(0, 5).reduce((s, d) => s + (d[i] as number), 0);
      expect(Math.abs((floats[i] as number) - exact)).toBeLessThanOrEqual(5 * scale);
    }
  });
});
