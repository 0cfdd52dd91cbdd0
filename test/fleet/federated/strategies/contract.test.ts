import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  AGGREGATION_STRATEGIES,
  StrategyError,
  fedAvg,
  fedProx,
  median,
  multiKrum,
  trimmedMean,
  type Aggregate,
  type ModelUpdate,
} from '../../../../fleet/federated/strategies/index.js';
import { FLOAT32_MAX, closeAsFloat32, copyUpdates, permutationArb, roundArb, shapeArb, updateArb } from './arbitraries.js';

/**
 * The contract every aggregation rule keeps (one suite, every rule, as MQTT.js runs one store
 * suite against every store). `exactUnderPermutation`: the result is bit-identical whatever the
 * updates' order; the others sum in arrival order, so they agree up to float64 rounding.
 */
interface RuleCase {
  readonly name: string;
  readonly minUpdates: number;
  readonly exactUnderPermutation: boolean;
  run(updates: readonly ModelUpdate[]): Aggregate;
}

const RULES: readonly RuleCase[] = [
  { name: 'fedavg', minUpdates: 1, exactUnderPermutation: false, run: (u) => fedAvg.aggregate(u, {}) },
  { name: 'fedprox', minUpdates: 1, exactUnderPermutation: false, run: (u) => fedProx.aggregate(u, { mu: 0.01 }) },
  { name: 'median', minUpdates: 1, exactUnderPermutation: true, run: (u) => median.aggregate(u, {}) },
  { name: 'trimmed-mean', minUpdates: 1, exactUnderPermutation: false, run: (u) => trimmedMean.aggregate(u, { trimShare: 0.2 }) },
  { name: 'multi-krum', minUpdates: 5, exactUnderPermutation: true, run: (u) => multiKrum.aggregate(u, { byzantineClients: 1 }) },
];

const flat = (tensors: readonly Float32Array[]): number[] => tensors.flatMap((t) => [...t]);

function thrown(f: () => unknown): StrategyError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(StrategyError);
    return e as StrategyError;
  }
  throw new Error('expected a StrategyError, nothing was thrown');
}

it('the contract suite covers every registered rule', () => {
  expect(RULES.map((r) => r.name).sort()).toEqual([...AGGREGATION_STRATEGIES.keys()].sort());
});

describe.each(RULES)('aggregation rule $name', (rule) => {
  const round = roundArb(12).filter((u) => u.length >= rule.minUpdates);

  it('gives the same result whatever order the updates arrive in (property)', () => {
    fc.assert(
      fc.property(round.chain((u) => fc.tuple(fc.constant(u), permutationArb(u.length))), ([updates, order]) => {
        const a = flat(rule.run(updates).tensors);
        const b = flat(rule.run(order.map((i) => updates[i] as ModelUpdate)).tensors);
        if (rule.exactUnderPermutation) {
          expect(b).toEqual(a);
        } else {
          const scale = Math.max(...updates.flatMap((u) => flat(u.tensors).map(Math.abs)));
          a.forEach((x, j) => expect(closeAsFloat32(x, b[j] as number, scale), `coordinate ${j}: ${x} vs ${b[j]}`).toBe(true));
        }
      }),
      { numRuns: 150 },
    );
  });

  it('returns the update itself when every update is the same, in the model shape, without touching its inputs (property)', () => {
    fc.assert(
      fc.property(
        shapeArb.chain((shape) => fc.tuple(updateArb(shape), fc.array(fc.integer({ min: 1, max: 5000 }), { minLength: rule.minUpdates, maxLength: 12 }))),
        ([update, samples]) => {
          const updates = samples.map((s) => ({ tensors: update.tensors, samples: s }));
          const before = copyUpdates(updates);
          const out = rule.run(updates);
          expect(out.tensors.map((t) => t.length)).toEqual(update.tensors.map((t) => t.length));
          out.tensors.forEach((t) => expect(t).toBeInstanceOf(Float32Array));
          // == rather than toEqual: a sum may turn -0 into +0, which is the same delta.
          flat(out.tensors).forEach((v, j) => expect(v === flat(update.tensors)[j], `coordinate ${j}`).toBe(true));
          expect(updates).toEqual(before);
        },
      ),
      { numRuns: 100 },
    );
  });

  it('stays finite and within the inputs\' range per coordinate, even at the edge of float32 (property)', () => {
    fc.assert(
      fc.property(roundArb(12, FLOAT32_MAX).filter((u) => u.length >= rule.minUpdates), (updates) => {
        const out = flat(rule.run(updates).tensors);
        const inputs = updates.map((u) => flat(u.tensors));
        out.forEach((v, j) => {
          const column = inputs.map((x) => x[j] as number);
          expect(Number.isFinite(v), `coordinate ${j} is ${v}`).toBe(true);
          expect(v).toBeGreaterThanOrEqual(Math.min(...column));
          expect(v).toBeLessThanOrEqual(Math.max(...column));
        });
      }),
      { numRuns: 150 },
    );
  });

  it('refuses an update with a NaN or an infinity, naming where it is (property)', () => {
    fc.assert(
      fc.property(
        round.chain((u) => fc.tuple(fc.constant(u), fc.nat(u.length - 1), fc.nat(), fc.nat(), fc.constantFrom(Number.NaN, Infinity, -Infinity))),
        ([updates, i, k, j, bad]) => {
          const poisoned = copyUpdates(updates);
          const target = poisoned[i] as ModelUpdate;
          const tensor = k % target.tensors.length;
          const t = target.tensors[tensor] as Float32Array;
          const at = j % t.length;
          t[at] = bad;
          const e = thrown(() => rule.run(poisoned));
          expect(e.code).toBe('E_FEDERATED_UPDATE');
          expect(e.message).toContain(`update ${i}, tensor ${tensor}, value ${at} is ${String(bad)}`);
        },
      ),
      { numRuns: 100 },
    );
  });

  it('refuses no updates, updates of different shapes, and sample counts that are not positive integers', () => {
    const u = (values: number[], samples = 1): ModelUpdate => ({ tensors: [Float32Array.from(values)], samples });
    const enough = (x: ModelUpdate): ModelUpdate[] => Array.from({ length: rule.minUpdates }, () => x);
    expect(thrown(() => rule.run([])).message).toMatch(/no updates to aggregate/);
    const e = thrown(() => rule.run([...enough(u([1, 2])), u([1, 2, 3])]));
    expect(e.code).toBe('E_FEDERATED_UPDATE');
    expect(e.message).toMatch(new RegExp(`update ${rule.minUpdates}, tensor 0 has 3 values, update 0's has 2`));
    const twoTensors = { tensors: [Float32Array.of(1, 2), Float32Array.of(3)], samples: 1 };
    expect(thrown(() => rule.run([...enough(u([1, 2])), twoTensors])).message).toMatch(/has 2 tensors, update 0 has 1/);
    for (const samples of [0, -3, 1.5, Number.NaN, 2 ** 40]) {
      expect(thrown(() => rule.run([...enough(u([1, 2])), u([1, 2], samples)])).message).toMatch(/samples must be an integer from 1/);
    }
    const notFloat32 = { tensors: [Float64Array.of(1, 2) as unknown as Float32Array], samples: 1 };
    expect(thrown(() => rule.run([...enough(u([1, 2])), notFloat32])).message).toMatch(/expected a Float32Array, got Float64Array/);
  });
});
