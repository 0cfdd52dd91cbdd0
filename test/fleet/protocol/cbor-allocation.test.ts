import { Session } from 'node:inspector/promises';
import { describe, expect, it } from 'vitest';
import { encodeRecord, type WireRecord } from '../../../fleet/protocol/record.js';

/** Bytes V8 allocated (sampled, collected garbage included) while `f` ran. */
async function allocatedBytes(f: () => void): Promise<number> {
  const session = new Session();
  session.connect();
  try {
    await session.post('HeapProfiler.startSampling', { samplingInterval: 256, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
    f();
    const { profile } = await session.post('HeapProfiler.stopSampling');
    let total = 0;
    const walk = (n: { selfSize: number; children: unknown[] }): void => {
      total += n.selfSize;
      for (const c of n.children) walk(c as typeof n);
    };
    walk(profile.head as unknown as { selfSize: number; children: unknown[] });
    return total;
  } finally {
    session.disconnect();
  }
}

describe('CBOR encoding cost', () => {
  it('a 125-register Modbus record costs well under 2 KB of garbage, also after the encoder has seen other shapes (scripts/patch-dependencies.mjs)', async () => {
    const registers = (i: number): number[] => Array.from({ length: 125 }, (_, k) => (k * 37 + i) & 0xffff);
    const record = (i: number): WireRecord => ({ id: `gw-1-${i}`, stream: 'plc.plc1.b0', class: 'telemetry', ts: 1_764_000_000_000 + i, data: { unit: 1, slave: 'plc1', group: 'b0', values: { r0: registers(i) }, units: { r0: '' } } });
    // Other shapes first, as a running gateway encodes them (health, alerts, fractional times):
    // cbor-x's encode is then re-optimized for all of them, which is when it allocated a
    // context object for every value (6.2 KB a record of this size).
    for (let i = 0; i < 20_000; i += 1) {
      encodeRecord({ id: `a-${i}`, stream: 's', class: 'alert', ts: i + 0.5, data: { score: i / 7, reason: 'x'.repeat(i % 40), flags: [true, null, 'y'] } });
      encodeRecord(record(i));
    }
    const records = Array.from({ length: 2_000 }, (_, i) => record(i));
    const n = 20_000;
    const bytes = await allocatedBytes(() => {
      for (let i = 0; i < n; i += 1) encodeRecord(records[i % records.length] as WireRecord);
    });
    // The output itself is about 0.5 KB, carved from 8 KB buffers.
    expect(bytes / n).toBeLessThan(2_000);
  });
});
