import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { decodeBatch, decodeRecord, encodeBatch, encodeRecord, type WireRecord } from '../../../fleet/protocol/index.js';

interface Vectors {
  records: { name: string; hex: string; record: Omit<WireRecord, 'data'> & { data: unknown } }[];
  batches: { name: string; hex: string; gatewayId: string; sentMs: number; recordHex: string[] }[];
}

const vectors = JSON.parse(readFileSync(new URL('../../../fleet/protocol/vectors/records.json', import.meta.url), 'utf8')) as Vectors;

/** The vectors file writes byte strings as {"$bytes": hex}. */
function revive(value: unknown): unknown {
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    const obj = value as Record<string, unknown>;
    if (typeof obj['$bytes'] === 'string' && Object.keys(obj).length === 1) return new Uint8Array(Buffer.from(obj['$bytes'], 'hex'));
    return Object.fromEntries(Object.entries(obj).map(([k, v]) => [k, revive(v)]));
  }
  return Array.isArray(value) ? value.map(revive) : value;
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

describe('protocol test vectors', () => {
  it('has a vector for every record class and for batches', () => {
    expect(new Set(vectors.records.map((v) => v.record.class))).toEqual(new Set(['telemetry', 'result', 'alert']));
    expect(vectors.batches.length).toBeGreaterThanOrEqual(2);
  });

  for (const v of vectors.records) {
    it(`record "${v.name}" encodes and decodes byte for byte`, () => {
      const record = revive(v.record) as WireRecord;
      expect(hex(encodeRecord(record))).toBe(v.hex);
      const decoded = decodeRecord(Buffer.from(v.hex, 'hex'));
      expect({ ...decoded, data: decoded.data instanceof Uint8Array ? new Uint8Array(decoded.data) : decoded.data }).toEqual(record);
    });
  }

  for (const v of vectors.batches) {
    it(`batch "${v.name}" encodes and decodes byte for byte`, () => {
      const records = v.recordHex.map((h) => new Uint8Array(Buffer.from(h, 'hex')));
      expect(hex(encodeBatch(v.gatewayId, v.sentMs, records))).toBe(v.hex);
      const decoded = decodeBatch(Buffer.from(v.hex, 'hex'));
      expect(decoded.gatewayId).toBe(v.gatewayId);
      expect(decoded.sentMs).toBe(v.sentMs);
      expect(decoded.rejected).toEqual([]);
      expect(decoded.records.map((r) => hex(encodeRecord(r)))).toEqual(v.recordHex);
    });
  }
});
