import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { ModbusBus } from '../../../devices/modbus/bus.js';
import { exceptionBucket } from '../../../devices/modbus/errors.js';
import { ModbusSource } from '../../../devices/modbus/modbus-source.js';
import type { SourceContext } from '../../../runtime/pipeline/components.js';
import { MemoryRtuLine } from '../../support/memory-rtu-line.js';
import { quietEvents } from '../../support/store.js';
import { waitFor } from '../../support/wait-for.js';

/**
 * An RTU line in memory whose slaves answer every read of holding register 1000 + c with
 * exception code c (any byte, standard or not), and any lower address with its address.
 */
class ExceptionLine extends MemoryRtuLine {
  write(data: Buffer): boolean {
    const unit = data[0] as number;
    const address = data.readUInt16BE(2);
    this.reply(address >= 1000 ? Buffer.from([unit, 0x83, (address - 1000) & 0xff]) : Buffer.from([unit, 3, 2, address >> 8, address & 0xff]));
    return true;
  }
}

const line = { type: 'rtu', path: '/dev/ttyFAKE', baudRate: 115_200, parity: 'none', stopBits: 1, dataBits: 8 } as const;

describe('exception counters', () => {
  let bus: ModbusBus | undefined;
  let source: ModbusSource | undefined;
  afterEach(async () => {
    await bus?.close();
    bus = undefined;
    await source?.stop();
    source = undefined;
  });

  it('exceptionBucket keeps codes 1..11 and puts every other byte under `other`', () => {
    expect([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11].map(exceptionBucket)).toEqual(['1', '2', '3', '4', '5', '6', '7', '8', '9', '10', '11']);
    expect([0, 12, 0x80, 255, -1, 2.5, Number.NaN].map(exceptionBucket)).toEqual(Array(7).fill('other'));
  });

  it('counts every exception reply under its bucket per slave: at most 12 keys whatever the slaves answer', async () => {
    const exceptionLine = new ExceptionLine();
    bus = new ModbusBus({ endpoint: line, timeoutMs: 200, retries: 1, reopen: { minMs: 20, maxMs: 200 }, openSerial: () => exceptionLine });
    await bus.start();
    const b = bus;
    const expected = new Map<number, Map<string, number>>();
    await fc.assert(
      fc.asyncProperty(fc.array(fc.record({ unit: fc.integer({ min: 1, max: 3 }), code: fc.integer({ min: 0, max: 255 }) }), { maxLength: 20 }), async (asks) => {
        for (const { unit, code } of asks) {
          // Exception replies are answers: never retried, one request each.
          await expect(b.readRegisters(unit, 'holding', 1000 + code, 1)).rejects.toMatchObject({ code: 'E_MODBUS_EXCEPTION', attempts: 1, failure: { kind: 'exception', code } });
          const perUnit = expected.get(unit) ?? new Map<string, number>();
          perUnit.set(exceptionBucket(code), (perUnit.get(exceptionBucket(code)) ?? 0) + 1);
          expected.set(unit, perUnit);
        }
        const s = b.stats();
        for (const [unit, perUnit] of expected) {
          const seen = s.units[String(unit)]?.exceptions ?? {};
          expect(Object.keys(seen).length).toBeLessThanOrEqual(12);
          expect(seen).toEqual(Object.fromEntries(perUnit));
          expect(s.units[String(unit)]).toMatchObject({ retries: 0, timeouts: 0, consecutiveFailures: 0 });
        }
      }),
      { numRuns: 40 },
    );
  });

  it("the source's stats carry slave.<name>.exception.<code> beside the timeouts and CRC errors of each slave", async () => {
    const exceptionLine = new ExceptionLine();
    source = new ModbusSource({
      id: 'bus1',
      type: 'modbus',
      rtu: { path: line.path, baudRate: line.baudRate, parity: 'none' },
      timeoutMs: 200,
      retries: 0,
      slaves: [
        // press1: one good read, then register 1002 answers exception 2 (illegal data address).
        { unit: 1, name: 'press1', groups: [{ name: 'g', intervalMs: 10, points: [{ name: 'ok', table: 'holding', address: 5 }, { name: 'bad', table: 'holding', address: 1002 }] }] },
        // meter2: register 1000 + 0x55 answers a code no standard names.
        { unit: 2, name: 'meter2', groups: [{ name: 'g', intervalMs: 10, points: [{ name: 'odd', table: 'holding', address: 1000 + 0x55 }] }] },
        { unit: 3, name: 'fine3', groups: [{ name: 'g', intervalMs: 10, points: [{ name: 'ok', table: 'holding', address: 7 }] }] },
      ],
      openSerial: () => exceptionLine,
    });
    const abort = new AbortController();
    let records = 0;
    const ctx: SourceContext = {
      emit: async (rs) => {
        records += rs.length;
        return { stored: Promise.resolve({ stored: rs.length, dropped: 0, evicted: 0, consumed: 0 }) };
      },
      signal: abort.signal,
      events: quietEvents('source:bus1'),
    };
    await source.start(ctx);
    const src = source;
    const stats = await waitFor(() => {
      const s = src.stats();
      return (s['slave.press1.exception.2'] as number) >= 3 && (s['slave.meter2.exception.other'] as number) >= 3 && records >= 3 ? s : undefined;
    }, 'three polls of each slave', 10_000);
    expect(stats['slave.press1.exceptions']).toBe(stats['slave.press1.exception.2']);
    expect(stats['slave.meter2.exceptions']).toBe(stats['slave.meter2.exception.other']);
    expect(Object.keys(stats).filter((k) => k.startsWith('slave.fine3.exception.'))).toEqual([]);
    expect(stats).toMatchObject({ 'slave.press1.timeouts': 0, 'slave.press1.crcErrors': 0, 'slave.fine3.exceptions': 0, open: true });
    // A slave that refuses a read of its map is failing its polls: degraded, naming it, with the code's meaning.
    expect(stats['degraded']).toBe(true);
    expect(stats['degradedReason']).toMatch(/slave 1 \(press1\) failing since .*exception 2 \(illegal data address\)/);
    expect(stats['degradedReason']).toMatch(/slave 2 \(meter2\) failing since .*exception 85 \(unknown\)/);
    expect(stats['degradedReason']).not.toMatch(/fine3/);
    abort.abort();
  });
});
