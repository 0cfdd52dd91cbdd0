import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  ProtocolError,
  RECORD_CLASSES,
  cborEncodeForTest,
  decodeBatch,
  decodeRecord,
  encodeBatch,
  encodeRecord,
  type WireRecord,
} from './protocol-under-test.js';

/**
 * CBOR data values as sensors and models produce them. `__proto__` keys are left out:
 * cbor-x renames them on decoding, on purpose (prototype pollution).
 */
const key = fc.string({ maxLength: 12 }).filter((k) => k !== '__proto__');
const leaf = fc.oneof(
  fc.double(),
  fc.integer(),
  fc.string(),
  fc.boolean(),
  fc.constant(null),
  fc.uint8Array({ maxLength: 32 }),
);
const data = fc.letrec((tie) => ({
  value: fc.oneof({ depthSize: 'small', withCrossShrink: true }, leaf, fc.array(tie('value'), { maxLength: 5 }), fc.dictionary(key, tie('value'), { maxKeys: 5 })),
})).value;

const record: fc.Arbitrary<WireRecord> = fc.record({
  id: fc.string({ minLength: 1, maxLength: 64 }),
  stream: fc.string({ minLength: 1, maxLength: 128 }),
  class: fc.constantFrom(...RECORD_CLASSES),
  ts: fc.oneof(fc.integer({ min: 0, max: 8.64e15 }), fc.double({ min: 0, max: 8.64e15, noNaN: true })),
  data,
});

/** Byte arrays come back as Buffers (compare contents); -0 comes back as 0 (documented). */
function normal(value: unknown): unknown {
  if (Object.is(value, -0)) return 0;
  if (value instanceof Uint8Array) return { bytes: Buffer.from(value).toString('hex') };
  if (Array.isArray(value)) return value.map(normal);
  if (value !== null && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, normal(v)]));
  return value;
}

describe('record encoding', () => {
  it('round-trips arbitrary records', () => {
    fc.assert(
      fc.property(record, (r) => {
        expect(normal(decodeRecord(encodeRecord(r)))).toEqual(normal(r));
      }),
      { numRuns: 500 },
    );
  });

  it('round-trips arbitrary batches of arbitrary records', () => {
    fc.assert(
      fc.property(fc.array(record, { maxLength: 20 }), fc.integer({ min: 0, max: 2 ** 47 }), (rs, sentMs) => {
        const batch = decodeBatch(encodeBatch('gw-1', sentMs, rs.map(encodeRecord)));
        expect(batch.gatewayId).toBe('gw-1');
        expect(batch.sentMs).toBe(sentMs);
        expect(batch.rejected).toEqual([]);
        expect(normal(batch.records)).toEqual(normal(rs));
      }),
      { numRuns: 200 },
    );
  });

  it('decodeBatch never throws anything but a ProtocolError on arbitrary bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 256 }), (bytes) => {
        try {
          decodeBatch(bytes);
        } catch (err) {
          expect(err).toBeInstanceOf(ProtocolError);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('keeps the good records of a batch and names the bad one', () => {
    const good = encodeRecord({ id: 'x.1.0', stream: 's', class: 'telemetry', ts: 1, data: 1 });
    const badClass = cborEncodeForTest({ id: 'x.1.1', stream: 's', class: 'urgent', ts: 1, data: 1 });
    const notCbor = new Uint8Array([0xff]);
    const batch = decodeBatch(encodeBatch('gw-1', 0, [good, badClass, notCbor]));
    expect(batch.records.map((r) => r.id)).toEqual(['x.1.0']);
    expect(batch.rejected.map((r) => [r.index, r.code])).toEqual([
      [1, 'E_PAYLOAD_INVALID'],
      [2, 'E_PAYLOAD_DECODE'],
    ]);
    expect(batch.rejected[0]?.reason).toContain('record.class');
  });

  it('rejects a batch with a bad envelope, saying which field', () => {
    expect(() => decodeBatch(cborEncodeForTest({ v: 2, gw: 'g', sentMs: 0, records: [] }))).toThrow(/v: expected 1/);
    expect(() => decodeBatch(cborEncodeForTest({ v: 1, gw: 'a/b', sentMs: 0, records: [] }))).toThrow(/gw: expected a gateway id/);
    expect(() => decodeBatch(cborEncodeForTest({ v: 1, gw: 'g', sentMs: 0, records: [], more: 1 }))).toThrow(/unknown key "more"/);
    expect(() => decodeBatch(new Uint8Array(1024 * 1024 + 1))).toThrow(ProtocolError);
  });
});
