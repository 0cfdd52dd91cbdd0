import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import type { ModbusBus } from '../../../devices/modbus/bus.js';
import { ModbusTransactionError, type ModbusFailure } from '../../../devices/modbus/errors.js';
import { scanBus, scanSnippet } from '../../../devices/modbus/scan.js';
import { parseConfig } from '../../../runtime/config/load.js';
import { builtinRegistry } from '../../../runtime/plugins.js';

/** What a scripted device answers to a one-register read: registers, or a failure. */
type Answer = 'data' | ModbusFailure;
type Device = (table: 'holding' | 'input', address: number) => Answer;

const exception = (code: number): ModbusFailure => ({ kind: 'exception', code });
const timeout: ModbusFailure = { kind: 'timeout' };

/** A bus whose units are scripted functions (a unit test of the scan logic; the real bus is tested against pymodbus). */
function scriptedBus(devices: Readonly<Record<number, Device>>): { bus: ModbusBus; requests: () => number } {
  let requests = 0;
  const bus = {
    endpoint: 'tcp://scripted:502',
    stats: () => ({ requests }),
    readRegisters: async (unit: number, table: 'holding' | 'input', address: number, count: number) => {
      requests += 1;
      const answer = devices[unit]?.(table, address) ?? timeout;
      if (answer === 'data') return new Array<number>(count).fill(0);
      throw new ModbusTransactionError(answer, unit, `read ${table} ${address}+${count}`, 1);
    },
  };
  return { bus: bus as unknown as ModbusBus, requests: () => requests };
}

const upTo = (last: number): ((address: number) => Answer) => (a) => (a <= last ? 'data' : exception(2));

describe('modbus scan', () => {
  it('tells present units from absent ones and finds each table\'s range within a bounded number of requests', async () => {
    const { bus, requests } = scriptedBus({
      1: (t, a) => (t === 'holding' ? upTo(99)(a) : exception(2)),
      // Holding registers time out (a device that ignores FC 3); input registers 1..9 (address 0 refused).
      2: (t, a) => (t === 'holding' ? timeout : a === 0 ? exception(2) : upTo(9)(a)),
      // A TCP gateway with nothing behind this id.
      3: () => exception(11),
      // Answers every address: the snippet is cut.
      5: () => 'data',
      // Exception 1 (illegal function) to both: there, but no registers to list.
      6: () => exception(1),
    });
    const progress: number[] = [];
    const result = await scanBus(bus, { units: [1, 2, 3, 4, 5, 6], tcp: true, onProgress: (p) => progress.push(p.done) });
    expect(progress).toEqual([1, 2, 3, 4, 5, 6]);
    expect(result.found).toEqual([
      { unit: 1, answer: 'data', holding: { start: 0, end: 99 }, input: { none: 'not readable at 0: exception 2 (illegal data address), 1: exception 2 (illegal data address)' }, notes: [] },
      { unit: 2, answer: 'exception 2 (illegal data address)', holding: { none: 'no answer at holding 0' }, input: { start: 1, end: 9 }, notes: ['holding 0: no answer (the unit answered other requests)'] },
      { unit: 5, answer: 'data', holding: { start: 0, end: 65_535 }, input: { start: 0, end: 65_535 }, notes: [] },
      { unit: 6, answer: 'exception 1 (illegal function)', holding: { none: expect.stringContaining('exception 1') }, input: { none: expect.stringContaining('exception 1') }, notes: [] },
    ]);
    // Presence: at most 2 requests per unit; each table of a unit found: at most 2 first addresses + 16 halvings.
    expect(requests()).toBeLessThanOrEqual(6 * 2 + 4 * 2 * 18);
    expect(result.requests).toBe(requests());

    const snippet = scanSnippet(result);
    expect(snippet).toContain('# unit 6 has no register readable from address 0 or 1: add its points from its manual');
    expect(snippet).toContain('holding 0..65535 (65536 registers; the snippet reads the first 1000)');
    const slaves = (parse(snippet) as { slaves: { unit: number; groups: { points: { address: number; count?: number }[] }[] }[] }).slaves;
    expect(slaves.map((s) => s.unit)).toEqual([1, 2, 5]);
    expect(slaves[1]?.groups[0]?.points).toEqual([{ name: 'ir_1', table: 'input', address: 1, count: 9 }]);
    const unit5 = slaves[2]?.groups[0]?.points ?? [];
    expect(unit5.filter((p) => (p as { table?: string }).table === 'holding').reduce((n, p) => n + (p.count ?? 1), 0)).toBe(1000);
    const indented = snippet.split('\n').map((l) => `    ${l}`).join('\n');
    expect(() => parseConfig(`gateway: { id: gw-1, dataDir: /tmp/x }\nuplink: { url: "mqtt://127.0.0.1:1" }\ndevices:\n  - id: bus\n    type: modbus\n    tcp: { host: 127.0.0.1 }\n${indented}\n`, 'pasted.yaml', builtinRegistry())).not.toThrow();
  });

  it('over RTU, exception 11 is an answer: a device is there', async () => {
    const { bus } = scriptedBus({ 7: () => exception(11) });
    const result = await scanBus(bus, { units: [7], tcp: false });
    expect(result.found.map((u) => u.unit)).toEqual([7]);
  });

  it('a port that closes stops the scan with the reason', async () => {
    const { bus } = scriptedBus({ 1: () => ({ kind: 'port-closed' }) });
    await expect(scanBus(bus, { units: [1, 2], tcp: false })).rejects.toMatchObject({ code: 'E_MODBUS_SCAN_ABORTED', message: expect.stringContaining('the port is closed') });
  });
});
