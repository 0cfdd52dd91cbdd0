import fc from 'fast-check';
import type { ModelUpdate } from '../../../../fleet/federated/strategies/index.js';
import { seededRandom } from '../../../../models/train/random.js';

/** Largest float32: "huge" Byzantine values sit right at the edge of what an update can hold. */
export const FLOAT32_MAX = 3.4028234663852886e38;

/** Tensor lengths of a small model: 1 to 3 tensors of 1 to 9 values (the contract, not the speed, is under test). */
export const shapeArb = fc.array(fc.integer({ min: 1, max: 9 }), { minLength: 1, maxLength: 3 });

const valueArb = (limit: number): fc.Arbitrary<number> => fc.float({ min: Math.fround(-limit), max: Math.fround(limit), noNaN: true });

export function tensorsArb(shape: readonly number[], limit = 1e6): fc.Arbitrary<Float32Array[]> {
  return fc.tuple(...shape.map((n) => fc.array(valueArb(limit), { minLength: n, maxLength: n }).map((v) => Float32Array.from(v))));
}

export function updateArb(shape: readonly number[], limit = 1e6): fc.Arbitrary<ModelUpdate> {
  return fc.record({ tensors: tensorsArb(shape, limit), samples: fc.integer({ min: 1, max: 5000 }) });
}

/** 1 to `max` updates of one random shape. */
export function roundArb(max = 12, limit = 1e6): fc.Arbitrary<ModelUpdate[]> {
  return shapeArb.chain((shape) => fc.array(updateArb(shape, limit), { minLength: 1, maxLength: max }));
}

/** A permutation of 0..n-1. */
export const permutationArb = (n: number): fc.Arbitrary<number[]> =>
  fc.shuffledSubarray(
    Array.from({ length: n }, (_, i) => i),
    { minLength: n, maxLength: n },
  );

/** What a Byzantine client sends instead of its honest update. */
export type Attack = 'sign-flip-x100' | 'x100' | 'huge' | 'arbitrary' | 'colluding';
export const ATTACKS: readonly Attack[] = ['sign-flip-x100', 'x100', 'huge', 'arbitrary', 'colluding'];

/** A round some of whose updates are Byzantine, in random positions. */
export interface AttackedRound {
  readonly updates: ModelUpdate[];
  /** Positions of the Byzantine updates in `updates`. */
  readonly byzantine: ReadonlySet<number>;
  readonly honest: readonly ModelUpdate[];
  readonly attack: Attack;
}

/**
 * Honest updates near a common centre whose every value is at least 0.5 from zero (so that
 * scaling an honest update by 100, or by -100, lands far from all of them), each within
 * `spread` of it; then `bad` of them replaced by an attack and everything shuffled.
 */
export function attackedRoundArb(honestCount: { min: number; max: number }, bad: (honest: number) => fc.Arbitrary<number>, spread = 0.01): fc.Arbitrary<AttackedRound> {
  return fc
    .record({ shape: shapeArb, honest: fc.integer(honestCount), attack: fc.constantFrom(...ATTACKS) })
    .chain(({ shape, honest, attack }) =>
      fc.record({
        shape: fc.constant(shape),
        attack: fc.constant(attack),
        centre: fc.tuple(...shape.map((n) => fc.array(fc.tuple(fc.float({ min: 0.5, max: 1, noNaN: true }), fc.boolean()), { minLength: n, maxLength: n }).map((v) => v.map(([x, s]) => (s ? -x : x))))),
        noise: fc.array(fc.tuple(...shape.map((n) => fc.array(fc.float({ min: Math.fround(-spread), max: Math.fround(spread), noNaN: true }), { minLength: n, maxLength: n }))), { minLength: honest, maxLength: honest }),
        samples: fc.array(fc.integer({ min: 1, max: 1000 }), { minLength: honest, maxLength: honest }),
        badCount: bad(honest),
        seed: fc.integer(),
      }),
    )
    .chain((r) =>
      fc.record({
        r: fc.constant(r),
        arbitrary: fc.array(tensorsArb(r.shape, FLOAT32_MAX), { minLength: r.badCount, maxLength: r.badCount }),
        hugeSigns: fc.array(fc.array(fc.boolean(), { minLength: r.shape.reduce((a, b) => a + b, 0), maxLength: r.shape.reduce((a, b) => a + b, 0) }), { minLength: r.badCount, maxLength: r.badCount }),
        order: permutationArb(r.noise.length + r.badCount),
      }),
    )
    .map(({ r, arbitrary, hugeSigns, order }) => {
      const honest: ModelUpdate[] = r.noise.map((noise, i) => ({ tensors: r.centre.map((c, k) => Float32Array.from(c, (x, j) => x + (noise[k]?.[j] as number))), samples: r.samples[i] as number }));
      const bad: ModelUpdate[] = Array.from({ length: r.badCount }, (_, b) => {
        const victim = honest[b % honest.length] as ModelUpdate;
        switch (r.attack) {
          case 'sign-flip-x100':
            return { tensors: victim.tensors.map((t) => t.map((x) => -100 * x)), samples: victim.samples };
          case 'x100':
            return { tensors: victim.tensors.map((t) => t.map((x) => 100 * x)), samples: victim.samples };
          case 'huge': {
            const signs = hugeSigns[b] as boolean[];
            let at = 0;
            return { tensors: victim.tensors.map((t) => t.map(() => (signs[at++] === true ? FLOAT32_MAX : -FLOAT32_MAX))), samples: 5000 };
          }
          case 'arbitrary':
            return { tensors: arbitrary[b] as Float32Array[], samples: 1 };
          case 'colluding':
            // All Byzantine updates the same point, far from the honest ones: they vouch for each other.
            return { tensors: r.centre.map((c) => Float32Array.from(c, (x) => -50 * x)), samples: 1000 };
        }
      });
      const all = [...honest, ...bad];
      const updates = order.map((i) => all[i] as ModelUpdate);
      const byzantine = new Set(order.flatMap((from, to) => (from >= honest.length ? [to] : [])));
      return { updates, byzantine, honest, attack: r.attack };
    });
}

/** Per coordinate of the flattened model: the smallest and largest honest value. */
export function honestRange(honest: readonly ModelUpdate[]): { lo: number[]; hi: number[] } {
  const flat = honest.map((u) => u.tensors.flatMap((t) => [...t]));
  const d = (flat[0] as number[]).length;
  const lo = Array.from({ length: d }, (_, j) => Math.min(...flat.map((f) => f[j] as number)));
  const hi = Array.from({ length: d }, (_, j) => Math.max(...flat.map((f) => f[j] as number)));
  return { lo, hi };
}

/** Values of the coordinates (flattened) outside the honest range, as `index: value` for a readable failure. */
export function outsideRange(tensors: readonly Float32Array[], range: { lo: number[]; hi: number[] }): string[] {
  const flat = tensors.flatMap((t) => [...t]);
  return flat.flatMap((v, j) => (v >= (range.lo[j] as number) && v <= (range.hi[j] as number) ? [] : [`${j}: ${v} not in [${range.lo[j]}, ${range.hi[j]}]`]));
}

/** Two float32 results equal up to float64 summation order and the final rounding to float32. */
export function closeAsFloat32(a: number, b: number, scale: number): boolean {
  return Math.abs(a - b) <= 2 ** -22 * Math.max(Math.abs(a), Math.abs(b)) + 1e-12 * scale + 1e-44;
}

export const copyUpdates = (updates: readonly ModelUpdate[]): ModelUpdate[] => updates.map((u) => ({ tensors: u.tensors.map((t) => t.slice()), samples: u.samples }));

/**
 * A fixed round (seeded): 10 honest updates of 3 tensors whose values lie within 0.05 of 1,
 * and an 11th that is the first one scaled by 100, as a broken or hostile gateway might send.
 * Every rule's test uses it: plain FedAvg is pulled out of the honest range, robust rules are not.
 */
export function oneX100Round(): { updates: ModelUpdate[]; honest: ModelUpdate[]; byzantine: number } {
  const random = seededRandom(14);
  const shape = [12, 4, 7];
  const honest = Array.from({ length: 10 }, () => ({ tensors: shape.map((n) => Float32Array.from({ length: n }, () => 1 + (random() - 0.5) * 0.1)), samples: 100 + Math.floor(random() * 50) }));
  const bad = { tensors: (honest[0] as ModelUpdate).tensors.map((t) => t.map((x) => 100 * x)), samples: 120 };
  const updates = [...honest.slice(0, 6), bad, ...honest.slice(6)];
  return { updates, honest, byzantine: 6 };
}
