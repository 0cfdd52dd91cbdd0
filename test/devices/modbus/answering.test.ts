import { afterEach, describe, expect, it } from 'vitest';
import { DEGRADED_AFTER_FAILED_POLLS, ModbusSource } from '../../../devices/modbus/modbus-source.js';
import type { SourceContext } from '../../../runtime/pipeline/components.js';
import { MemoryRtuLine } from '../../support/memory-rtu-line.js';
import { quietEvents } from '../../support/store.js';
import { waitFor } from '../../support/wait-for.js';

/** An RTU line in memory: every slave not `silent` answers a holding-register read with the address; it can be unplugged. */
class SwitchLine extends MemoryRtuLine {
  readonly silent = new Set<number>();
  /** While true, opening fails (the adapter is gone). */
  unplugged = false;
  protected override openFailure(): Error | undefined {
    return this.unplugged ? new Error('ENOENT: no such file or directory') : undefined;
  }
  write(data: Buffer): boolean {
    const unit = data[0] as number;
    const address = data.readUInt16BE(2);
    if (this.silent.has(unit)) return true;
    this.reply(Buffer.from([unit, 3, 2, address >> 8, address & 0xff]));
    return true;
  }
  unplug(): void {
    this.unplugged = true;
    this.close();
  }
}

describe('modbus source answering()', () => {
  let source: ModbusSource | undefined;
  afterEach(async () => {
    await source?.stop();
    source = undefined;
  });

  it('stays answering while one slave of two fails, and stops while every slave fails or the port is not open', async () => {
    const line = new SwitchLine();
    const s = new ModbusSource({
      id: 'bus1',
      type: 'modbus',
      rtu: { path: '/dev/ttyFAKE', baudRate: 115_200, parity: 'none' },
      timeoutMs: 50,
      retries: 0,
      reopen: { minDelayMs: 20, maxDelayMs: 40 },
      slaves: [
        { unit: 1, name: 'a', groups: [{ name: 'g', intervalMs: 20, points: [{ name: 'x', table: 'holding', address: 5 }] }] },
        { unit: 2, name: 'b', groups: [{ name: 'g', intervalMs: 20, points: [{ name: 'x', table: 'holding', address: 6 }] }] },
      ],
      openSerial: () => line,
    });
    source = s;
    expect(s.answering()).toBe(false); // not started: nothing is read
    const ctx: SourceContext = {
      emit: async (rs) => ({ stored: Promise.resolve({ stored: rs.length, dropped: 0, evicted: 0, consumed: 0 }) }),
      signal: new AbortController().signal,
      events: quietEvents('source:bus1'),
    };
    await s.start(ctx);
    expect(s.answering()).toBe(true);
    const failedPolls = (name: string): number => s.stats()[`slave.${name}.consecutiveFailedPolls`] as number;

    // One slave silent: degraded, naming it, but the source still reads its device.
    line.silent.add(1);
    await waitFor(() => failedPolls('a') >= DEGRADED_AFTER_FAILED_POLLS + 1, 'slave a to fail its polls', 10_000);
    expect(s.stats()['degraded']).toBe(true);
    expect(s.answering()).toBe(true);

    // Both silent: not answering; one back: answering again.
    line.silent.add(2);
    await waitFor(() => !s.answering(), 'the source to stop answering with every slave silent', 10_000);
    expect(failedPolls('b')).toBeGreaterThanOrEqual(DEGRADED_AFTER_FAILED_POLLS);
    line.silent.delete(2);
    await waitFor(() => s.answering(), 'the source to answer again with slave b back', 10_000);

    // The adapter unplugged: the port is not open, so not answering; plugged in: answering once it reopens.
    line.unplug();
    await waitFor(() => s.stats()['open'] === false, 'the bus to see the port closed', 10_000);
    expect(s.answering()).toBe(false);
    line.unplugged = false;
    await waitFor(() => s.answering(), 'the source to answer after the reopen', 10_000);
    expect(s.stats()['open']).toBe(true);
  });
});
