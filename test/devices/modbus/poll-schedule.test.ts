import { afterEach, describe, expect, it } from 'vitest';
import { ModbusSource } from '../../../devices/modbus/modbus-source.js';
import type { SourceContext } from '../../../runtime/pipeline/components.js';
import { MemoryRtuLine } from '../../support/memory-rtu-line.js';
import { quietEvents } from '../../support/store.js';
import { waitFor } from '../../support/wait-for.js';

/** Answers every holding-register read with its address, unless answers are held: then it keeps them until released. */
class HoldingLine extends MemoryRtuLine {
  readonly requests: number[] = [];
  private held: Buffer[] | undefined;
  write(data: Buffer): boolean {
    const unit = data[0] as number;
    const address = data.readUInt16BE(2);
    this.requests.push(unit);
    const body = Buffer.from([unit, 3, 2, address >> 8, address & 0xff]);
    if (this.held !== undefined) this.held.push(body);
    else this.reply(body);
    return true;
  }
  hold(): void {
    this.held = [];
  }
  release(): void {
    const held = this.held ?? [];
    this.held = undefined;
    for (const b of held) this.reply(b);
  }
}

describe('modbus poll schedule', () => {
  let source: ModbusSource | undefined;
  afterEach(async () => {
    await source?.stop();
    source = undefined;
  });

  const start = async (line: HoldingLine): Promise<{ s: ModbusSource; records: () => number }> => {
    const s = new ModbusSource({
      id: 'bus1',
      type: 'modbus',
      rtu: { path: '/dev/ttyFAKE', baudRate: 115_200, parity: 'none' },
      // Long enough that a held answer is still awaited when the test releases it.
      timeoutMs: 20_000,
      retries: 0,
      slaves: [{ unit: 1, name: 'a', groups: [{ name: 'g', intervalMs: 10, points: [{ name: 'x', table: 'holding', address: 5 }] }] }],
      openSerial: () => line,
    });
    source = s;
    let records = 0;
    const ctx: SourceContext = {
      emit: async (rs) => {
        records += rs.length;
        return { stored: Promise.resolve({ stored: rs.length, dropped: 0, evicted: 0, consumed: 0 }) };
      },
      signal: new AbortController().signal,
      events: quietEvents('source:bus1'),
    };
    await s.start(ctx);
    return { s, records: () => records };
  };

  it('polls a group again after each answer, counts the due times a slow answer let pass as overruns, and never stacks its polls', { timeout: 30_000 }, async () => {
    const line = new HoldingLine();
    const { s, records } = await start(line);
    await waitFor(() => records() >= 3, 'three polls answered', 10_000);

    line.hold();
    const before = line.requests.length;
    await waitFor(() => line.requests.length > before, 'the next poll on the wire', 10_000);
    // Held for several intervals: the overruns show while the poll is still waiting, and no second request went out.
    const overrunsAtHold = s.stats()['pollOverruns'] as number;
    await waitFor(() => (s.stats()['pollOverruns'] as number) >= overrunsAtHold + 5, 'overruns counted while the answer is held', 10_000);
    expect(line.requests.length).toBe(before + 1);
    const polls = s.stats()['polls'] as number;

    line.release();
    const released = records();
    await waitFor(() => records() >= released + 3, 'polls going on after the answer', 10_000);
    const st = s.stats();
    // The skipped due times are counted once, not again when the poll ends.
    expect(st['pollOverruns'] as number).toBeGreaterThanOrEqual(overrunsAtHold + 5);
    expect(st['polls'] as number).toBeGreaterThan(polls);
  });

  it('sends nothing once stopped, even when a poll was waiting for its answer', { timeout: 30_000 }, async () => {
    const line = new HoldingLine();
    const { s, records } = await start(line);
    await waitFor(() => records() >= 2, 'two polls answered', 10_000);
    line.hold();
    const before = line.requests.length;
    await waitFor(() => line.requests.length > before, 'a poll on the wire', 10_000);
    const stopping = s.stop();
    line.release();
    await stopping;
    source = undefined;
    const sent = line.requests.length;
    const polls = s.stats()['polls'] as number;
    // Three intervals after the stop: no timer left to start a poll.
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(line.requests.length).toBe(sent);
    expect(s.stats()['polls']).toBe(polls);
  });
});
