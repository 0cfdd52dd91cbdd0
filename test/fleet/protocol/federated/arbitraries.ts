import fc from 'fast-check';
import { MAX_SCALE, type FloatTensor, type QuantizedTensor, type UpdateMessage } from '../../../../fleet/protocol/federated/index.js';

/** The largest float32 an int8 with a float32 scale carries (127 x MAX_SCALE, rounded down). */
export const MAX_QUANTISABLE = ((): number => {
  const f = new Float32Array([127 * MAX_SCALE]);
  if ((f[0] as number) > 127 * MAX_SCALE) {
    const bits = new Uint32Array(f.buffer);
    bits[0] = (bits[0] as number) - 1;
  }
  return f[0] as number;
})();

/** Every quantisable float32: subnormals, -0 and the largest values included. */
export const finiteFloat32 = fc.float({ min: -MAX_QUANTISABLE, max: MAX_QUANTISABLE, noNaN: true });

/** Values as weight deltas are: mostly small, of both signs, some exactly 0. */
export const deltaFloat32 = fc.oneof({ weight: 4, arbitrary: fc.float({ min: -1, max: 1, noNaN: true }) }, { weight: 1, arbitrary: fc.constant(0) });

export const shape = fc.array(fc.integer({ min: 1, max: 6 }), { minLength: 1, maxLength: 3 });

export const tensorName = fc.stringMatching(/^[A-Za-z0-9._:/-]{1,24}$/);

export function floatTensor(values: fc.Arbitrary<number> = finiteFloat32, name: fc.Arbitrary<string> = tensorName): fc.Arbitrary<FloatTensor> {
  return fc
    .tuple(name, shape)
    .chain(([n, s]) => fc.record({ name: fc.constant(n), shape: fc.constant(s), values: fc.array(values, { minLength: s.reduce((a, b) => a * b, 1), maxLength: s.reduce((a, b) => a * b, 1) }).map((v) => Float32Array.from(v)) }));
}

/** A model update: 1 to 6 tensors with distinct names. */
export function modelUpdate(values: fc.Arbitrary<number> = finiteFloat32): fc.Arbitrary<FloatTensor[]> {
  return fc.uniqueArray(tensorName, { minLength: 1, maxLength: 6 }).chain((names) => fc.tuple(...names.map((n) => floatTensor(values, fc.constant(n)))));
}

/** Quantised tensors straight from the wire's value space (not necessarily from a quantiser): dense or sparse. */
export const quantizedTensor: fc.Arbitrary<QuantizedTensor> = fc.tuple(tensorName, shape, fc.boolean()).chain(([name, s, sparse]) => {
  const n = s.reduce((a, b) => a * b, 1);
  const scale = fc.float({ min: 0, max: MAX_SCALE, noNaN: true }).map((x) => (Object.is(x, -0) ? 0 : x));
  if (!sparse) return fc.record({ name: fc.constant(name), shape: fc.constant(s), scale, q: fc.array(fc.integer({ min: -127, max: 127 }), { minLength: n, maxLength: n }).map((q) => Int8Array.from(q)) });
  return fc.uniqueArray(fc.nat(n - 1), { maxLength: n }).chain((idx) => {
    const indices = Uint32Array.from(idx.sort((a, b) => a - b));
    return fc.record({ name: fc.constant(name), shape: fc.constant(s), scale, q: fc.array(fc.integer({ min: -127, max: 127 }), { minLength: indices.length, maxLength: indices.length }).map((q) => Int8Array.from(q)), indices: fc.constant(indices) });
  });
});

const id = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._-]{0,20}$/);

const noNegativeZero = (x: number): number => (Object.is(x, -0) ? 0 : x);

/** The log-error moments a v2 update carries (any finite values the format allows). */
export const calibrationMoments = fc.record({
  n: fc.integer({ min: 1, max: 2 ** 32 - 1 }),
  sum: fc.double({ noNaN: true, noDefaultInfinity: true }).map(noNegativeZero),
  sumSq: fc.double({ min: 0, noNaN: true, noDefaultInfinity: true }).map(noNegativeZero),
});

export const updateMessage: fc.Arbitrary<UpdateMessage> = fc
  .record({
    round: fc.nat({ max: Number.MAX_SAFE_INTEGER }),
    task: id,
    client: id,
    samples: fc.integer({ min: 1, max: 2 ** 32 - 1 }),
    validationLoss: fc.oneof(fc.constant(null), fc.double({ min: 0, max: 1e12, noNaN: true }).map(noNegativeZero)),
    tensors: fc.uniqueArray(quantizedTensor, { minLength: 1, maxLength: 5, selector: (t) => t.name }),
    calibration: fc.option(calibrationMoments, { nil: undefined }),
  })
  .map(({ calibration, ...m }) => (calibration === undefined ? m : { ...m, calibration }));
