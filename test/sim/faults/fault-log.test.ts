import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FaultLog, parseFaultLog } from '../../../sim/faults/fault-log.js';
import { makeTempDir } from '../../support/temp-dir.js';

describe('FaultLog', () => {
  let dir: { path: string; remove: () => Promise<void> };
  beforeEach(async () => {
    dir = await makeTempDir();
  });
  afterEach(async () => {
    await dir.remove();
  });

  it('appends each event as a JSON line at once, on the run clock, and reads back what it wrote', async () => {
    let now = 0;
    const path = join(dir.path, 'faults.jsonl');
    const log = new FaultLog({ path, now: () => now });
    now = 1500;
    log.record('kill', 'gw-1', 'start', { pid: 42 });
    // On disk before anything else happens: a simulator that dies now still leaves the truth.
    expect(parseFaultLog(await readFile(path, 'utf8'), path)).toMatchObject([{ atMs: 1500, kind: 'kill', target: 'gw-1', action: 'start', detail: { pid: 42 } }]);
    now = 4200.4;
    log.record('kill', 'gw-1', 'end', { downMs: 2700 });
    log.close();
    const back = parseFaultLog(await readFile(path, 'utf8'), path);
    expect(back).toEqual(log.entries());
    expect(back.map((e) => e.atMs)).toEqual([1500, 4200]);
    expect(back.every((e) => Math.abs(e.wallMs - Date.now()) < 60_000)).toBe(true);
  });

  it('keeps at most maxEntries in memory and maxFileBytes on disk, and counts what it cut', async () => {
    const path = join(dir.path, 'faults.jsonl');
    const log = new FaultLog({ path, maxEntries: 10, maxFileBytes: 1000 });
    for (let i = 0; i < 50; i += 1) log.record('partition', `gw-${i}`, 'start');
    log.close();
    expect(log.entries()).toHaveLength(10);
    expect(log.entries()[0]?.target).toBe('gw-40');
    expect(log.droppedFromMemory).toBe(40);
    const text = await readFile(path, 'utf8');
    expect(text.length).toBeLessThanOrEqual(1000);
    const written = parseFaultLog(text, path);
    expect(written.length + log.droppedFromFile).toBe(50);
    expect(written[0]?.target).toBe('gw-0'); // the file keeps the beginning: the run's first faults
  });

  it('reads back exactly what it wrote, whatever the targets and details hold (newlines, quotes, any Unicode)', async () => {
    const event = fc.record({
      kind: fc.constantFrom('sensor', 'broker-outage', 'partition', 'kill', 'cable-pull', 'exit' as const),
      target: fc.string({ unit: 'grapheme' }),
      action: fc.constantFrom('start', 'end' as const),
      detail: fc.dictionary(fc.string(), fc.oneof(fc.string({ unit: 'binary' }), fc.double({ noNaN: true, noDefaultInfinity: true }), fc.boolean(), fc.constant(null)), { maxKeys: 4 }),
    });
    let run = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(event, { maxLength: 20 }), async (events) => {
        run += 1;
        const path = join(dir.path, `p${run}.jsonl`);
        const log = new FaultLog({ path });
        for (const e of events) log.record(e.kind, e.target, e.action, e.detail);
        log.close();
        // JSON has no -0: it comes back as 0, as in every JSON reader.
        expect(parseFaultLog(await readFile(path, 'utf8'), path)).toEqual(JSON.parse(JSON.stringify(log.entries())));
        expect(log.entries()).toHaveLength(events.length);
      }),
      { numRuns: 100 },
    );
  });

  it('names the line that is not a fault event', () => {
    const good = JSON.stringify({ atMs: 1, wallMs: 2, kind: 'kill', target: 'a', action: 'start', detail: {} });
    expect(() => parseFaultLog(`${good}\n{"atMs":1}\n`, 'run/faults.jsonl')).toThrow(/run\/faults\.jsonl:2: not a fault event/);
    expect(() => parseFaultLog(`${good}\nnope\n`, 'f')).toThrow(expect.objectContaining({ code: 'E_FAULT_LOG_PARSE', message: 'f:2: not JSON' }));
  });
});
