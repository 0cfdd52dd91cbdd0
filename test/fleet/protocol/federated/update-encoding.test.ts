import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { cborEncode } from '../../../../fleet/protocol/cbor.js';
import { DEFAULT_UPDATE_LIMITS, FederatedError, decodeUpdate, encodeUpdate, type UpdateMessage } from '../../../../fleet/protocol/federated/index.js';
import { updateMessage } from './arbitraries.js';

/** Decodes, or returns the FederatedError; any other throw fails the test. */
function attempt(bytes: Uint8Array, limits = DEFAULT_UPDATE_LIMITS): UpdateMessage | FederatedError {
  try {
    return decodeUpdate(bytes, limits);
  } catch (err) {
    if (err instanceof FederatedError && err.code === 'E_FEDERATED_UPDATE') return err;
    throw err;
  }
}

const MESSAGE: UpdateMessage = {
  round: 12,
  task: 'anomaly-motor',
  client: 'gw-7',
  samples: 480,
  validationLoss: 0.0425,
  tensors: [
    { name: 'layers.0.w', shape: [2, 3], scale: Math.fround(0.01), q: Int8Array.from([1, -2, 127, -127, 0, 5]) },
    { name: 'layers.0.b', shape: [10], scale: Math.fround(0.5), q: Int8Array.from([3, -4]), indices: Uint32Array.from([2, 9]) },
  ],
};

/** The message as a plain CBOR map, with fields replaced: to build wrong messages a decoder must refuse. */
function raw(over: Record<string, unknown> = {}, tensorOver: Record<string, unknown> = {}): Uint8Array {
  const tensors = [
    { name: 'layers.0.w', shape: [2, 3], scale: Math.fround(0.01), q: new Uint8Array(Int8Array.from([1, -2, 127, -127, 0, 5]).buffer), ...tensorOver },
    { name: 'layers.0.b', shape: [10], scale: 0.5, q: new Uint8Array(Int8Array.from([3, -4]).buffer), iv: Uint8Array.from([2, 6]) },
  ];
  return cborEncode({ v: 1, round: 12, task: 'anomaly-motor', client: 'gw-7', samples: 480, valLoss: 0.0425, tensors, ...over });
}

describe('update message encoding', () => {
  it('round-trips arbitrary updates, dense and sparse', () => {
    fc.assert(
      fc.property(updateMessage, (m) => {
        expect(decodeUpdate(encodeUpdate(m))).toEqual(m);
      }),
      { numRuns: 500 },
    );
    expect(decodeUpdate(raw())).toEqual(MESSAGE);
    expect(decodeUpdate(encodeUpdate(MESSAGE))).toEqual(MESSAGE);
  });

  it('refuses a wrong message, naming the field', () => {
    const t = (over: Record<string, unknown>, tensorOver: Record<string, unknown> = {}): FederatedError => attempt(raw(over, tensorOver)) as FederatedError;
    const cases: [FederatedError, string, string][] = [
      [t({ v: 3 }), 'v', 'version 3 is not supported'],
      [t({ calib: { n: 4, sum: -8, sumSq: 16 } }), 'calib', 'unknown key'],
      [t({ v: 2 }), 'calib', 'expected a map of n, sum, sumSq'],
      [t({ v: 2, calib: { n: 0, sum: -8, sumSq: 16 } }), 'calib.n', 'integer from 1'],
      [t({ v: 2, calib: { n: 4, sum: Number.POSITIVE_INFINITY, sumSq: 16 } }), 'calib.sum', 'finite number'],
      [t({ v: 2, calib: { n: 4, sum: '1', sumSq: 16 } }), 'calib.sum', 'finite number'],
      [t({ v: 2, calib: { n: 4, sum: -8, sumSq: -1 } }), 'calib.sumSq', 'finite number >= 0'],
      [t({ v: 2, calib: { n: 4, sum: -8, sumSq: Number.NaN } }), 'calib.sumSq', 'finite number >= 0'],
      [t({ v: 2, calib: { n: 4, sum: -8, sumSq: 16, mean: -2 } }), 'calib.mean', 'unknown key'],
      [t({ round: -1 }), 'round', 'integer from 0'],
      [t({ round: 1.5 }), 'round', 'integer'],
      [t({ task: 'a/b' }), 'task', 'task id'],
      [t({ client: '' }), 'client', 'gateway id'],
      [t({ samples: 0 }), 'samples', 'from 1'],
      [t({ samples: 2 ** 32 }), 'samples', 'to 4294967295'],
      [t({ valLoss: Number.NaN }), 'valLoss', 'finite number >= 0 or null'],
      [t({ valLoss: -1 }), 'valLoss', 'finite'],
      [t({ extra: 1 }), 'extra', 'unknown key'],
      [t({ tensors: [] }), 'tensors', '1 to 1024 tensors'],
      [t({ tensors: 'x' }), 'tensors', 'list'],
      [t({}, { name: 'layers.0.b' }), 'tensors[1].name', 'appears twice'],
      [t({}, { name: 'a b' }), 'tensors[0].name', 'tensor name'],
      [t({}, { shape: [] }), 'tensors[0].shape', '1 to 8 dimensions'],
      [t({}, { shape: [2, 0] }), 'tensors[0].shape[1]', 'integer from 1'],
      [t({}, { shape: [2, 4] }), 'tensors[0].q', '6 values for shape [2, 4] (8)'],
      [t({}, { shape: [4096, 4096, 2] }), 'tensors[0].shape', `more than ${16 * 1024 * 1024} elements`],
      [t({}, { scale: 0.1 }), 'tensors[0].scale', 'float32'],
      [t({}, { scale: -1 }), 'tensors[0].scale', 'float32 from 0'],
      [t({}, { scale: 1e38 }), 'tensors[0].scale', 'float32 from 0 to'],
      [t({}, { q: Int8Array.from([1, 2, 3, 4, 5, 6]) }), 'tensors[0].q', 'byte string'],
      [t({}, { q: Uint8Array.from([1, 2, 0x80, 4, 5, 6]) }), 'tensors[0].q[2]', '-128 is outside'],
      [t({}, { iv: Uint8Array.from([6]) }), 'tensors[0].iv', 'index 0 is 6, the tensor has 6 elements'],
      [t({}, { iv: Uint8Array.from([0]) }), 'tensors[0].q', '6 values for 1 indices'],
      [t({}, { iv: Uint8Array.from([0]), ib: Uint8Array.from([1]) }), 'tensors[0]', 'both iv and ib'],
      [t({}, { ib: Uint8Array.from([0x3f, 0]) }), 'tensors[0].ib', 'expected 1 bytes of bitmap'],
      [t({}, { scale: '1' }), 'tensors[0].scale', 'float32'],
      [t({}, { more: 1 }), 'tensors[0].more', 'unknown key'],
      [attempt(cborEncode([1, 2])) as FederatedError, 'message', 'CBOR map'],
      [attempt(Uint8Array.from([0xff])) as FederatedError, 'message', 'not one whole CBOR item'],
      [attempt(raw(), { ...DEFAULT_UPDATE_LIMITS, maxMessageBytes: 20 }) as FederatedError, 'message', 'at most 20'],
      [attempt(raw(), { ...DEFAULT_UPDATE_LIMITS, maxTensors: 1 }) as FederatedError, 'tensors', '1 to 1 tensors'],
      [attempt(raw(), { ...DEFAULT_UPDATE_LIMITS, maxElements: 10 }) as FederatedError, 'tensors[1].shape', '16 elements in the tensors so far, at most 10'],
    ];
    for (const [err, field, text] of cases) {
      expect(err, `${field}: ${text}`).toBeInstanceOf(FederatedError);
      expect([err.code, err.field], text).toEqual(['E_FEDERATED_UPDATE', field]);
      expect(err.message).toContain(text);
    }
    // v2 is v1 plus calib; a v1 message (no calib) still decodes, to a message without calibration.
    expect(decodeUpdate(raw({ v: 2, calib: { n: 4, sum: -8, sumSq: 16 } })).calibration).toEqual({ n: 4, sum: -8, sumSq: 16 });
    expect('calibration' in decodeUpdate(raw())).toBe(false);
    // The encoder writes v1 unless calib goes along (a v1 fleet keeps reading uncalibrated updates): a7 61 76 01 / a8 61 76 02.
    expect([...encodeUpdate(MESSAGE).subarray(0, 4)]).toEqual([0xa7, 0x61, 0x76, 0x01]);
    expect([...encodeUpdate({ ...MESSAGE, calibration: { n: 4, sum: -8, sumSq: 16 } }).subarray(0, 4)]).toEqual([0xa8, 0x61, 0x76, 0x02]);
    // A bitmap that fits the tensor is a sparse tensor like any other.
    expect((decodeUpdate(raw({}, { ib: Uint8Array.from([0x3f]) })).tensors[0]?.indices ?? []).length).toBe(6);
  });

  it('fails cleanly on every truncation of a valid message', () => {
    fc.assert(
      fc.property(updateMessage, (m) => {
        const bytes = encodeUpdate(m);
        for (let cut = 0; cut < bytes.length; cut += 1) expect(attempt(bytes.subarray(0, cut))).toBeInstanceOf(FederatedError);
      }),
      { numRuns: 60 },
    );
  });

  it('decodes corrupted or arbitrary bytes to a valid update or refuses them with E_FEDERATED_UPDATE, never anything else', () => {
    fc.assert(
      fc.property(updateMessage, fc.array(fc.tuple(fc.nat(), fc.nat(255)), { minLength: 1, maxLength: 4 }), (m, flips) => {
        const bytes = encodeUpdate(m).slice();
        for (const [at, b] of flips) bytes[at % bytes.length] = b;
        const r = attempt(bytes);
        // whatever survives decoding is a message the encoder itself accepts
        if (!(r instanceof FederatedError)) expect(decodeUpdate(encodeUpdate(r))).toEqual(r);
      }),
      { numRuns: 2000 },
    );
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        attempt(bytes);
      }),
      { numRuns: 3000 },
    );
  });

  it('refuses headers that claim huge arrays, strings or byte strings without allocating them', () => {
    for (const hex of ['9affffffff', '9bffffffffffffffff', '5affffffff', '7affffffff', 'bafffffff0', 'a1617a9affffffff']) {
      expect(attempt(Buffer.from(hex, 'hex'))).toBeInstanceOf(FederatedError);
    }
  });

  it('will not encode what a receiver would refuse', () => {
    const bad: [UpdateMessage, string][] = [
      [{ ...MESSAGE, tensors: [] }, 'tensors'],
      [{ ...MESSAGE, client: 'a b' }, 'client'],
      [{ ...MESSAGE, tensors: [{ ...MESSAGE.tensors[1]!, indices: Uint32Array.from([9, 2]) }] }, 'tensors[0].indices[1]'],
      [{ ...MESSAGE, tensors: [{ ...MESSAGE.tensors[1]!, indices: Uint32Array.from([2, 10]) }] }, 'tensors[0].indices[1]'],
      [{ ...MESSAGE, tensors: [{ ...MESSAGE.tensors[0]!, q: Int8Array.from([0, 0, 0, 0, 0, -128]) }] }, 'tensors[0].q[5]'],
      [{ ...MESSAGE, tensors: [{ ...MESSAGE.tensors[0]!, shape: [3, 3] }] }, 'tensors[0].q'],
    ];
    for (const [m, field] of bad) {
      expect(() => encodeUpdate(m), field).toThrow(expect.objectContaining({ code: 'E_FEDERATED_UPDATE', field }));
    }
  });
});
