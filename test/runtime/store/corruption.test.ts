import { createHash, randomBytes } from 'node:crypto';
import { cp, open, readFile, readdir, stat, truncate, writeFile } from 'node:fs/promises';
import { ClassicLevel } from 'classic-level';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../../../runtime/config/load.js';
import { Gateway } from '../../../runtime/gateway.js';
import type { RecordInput } from '../../../runtime/pipeline/record.js';
import { builtinRegistry } from '../../../runtime/plugins.js';
import { testGatewayConfig } from '../../support/gateway-config.js';
import { freePort } from '../../support/ports.js';
import { openOutbox, readAll } from '../../support/store.js';
import { makeTempDir } from '../../support/temp-dir.js';

/**
 * Real LevelDB files, damaged by the test the way a tester (or a failing SD card) damages
 * them, then opened by the store: it must open, keep everything LevelDB can still read,
 * count what it could not, and keep the damaged files aside.
 */
let dir: { path: string; remove: () => Promise<void> };
let data: string;
beforeEach(async () => {
  dir = await makeTempDir();
  data = `${dir.path}/data`;
});
afterEach(async () => {
  await dir.remove();
});

const BIG = 1 << 30;
const recs = (from: number, n: number): RecordInput[] => Array.from({ length: n }, (_, i) => ({ stream: 's', class: 'telemetry', ts: 1000 + from + i, data: { k: from + i, pad: 'x'.repeat(40) } }));

/** Appends `n` records in batches of 10 and closes cleanly. */
async function fill(from: number, n: number): Promise<void> {
  const o = await openOutbox(data, { maxSizeBytes: BIG, sync: true });
  for (let i = 0; i < n; i += 10) await o.outbox.append(recs(from + i, 10));
  await o.close();
}

async function filesMatching(path: string, re: RegExp): Promise<string[]> {
  return (await readdir(path)).filter((n) => re.test(n));
}

/** What plain LevelDB (no repair, no salvage) recovers from a copy of the damaged files. */
async function plainLevelDbCount(): Promise<number> {
  const copy = `${dir.path}/plain-copy`;
  await cp(data, copy, { recursive: true });
  const db = new ClassicLevel<string, Uint8Array>(copy, { valueEncoding: 'view' });
  await db.open();
  let n = 0;
  for await (const key of db.keys({ gte: 'o', lt: 'p' })) if (key.length > 0) n += 1;
  await db.close();
  return n;
}

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

async function asideDirs(): Promise<string[]> {
  return (await readdir(dir.path)).filter((n) => n.startsWith('data.corrupt-')).map((n) => `${dir.path}/${n}`);
}

describe('store corruption', () => {
  it('finds 200 random bytes in the write-ahead log, keeps all LevelDB can replay, counts the rest and keeps the log aside', async () => {
    await fill(0, 1000);
    const [log] = await filesMatching(data, /\.log$/);
    const logPath = `${data}/${String(log)}`;
    const size = (await stat(logPath)).size;
    const fh = await open(logPath, 'r+');
    await fh.write(randomBytes(200), 0, 200, Math.floor(size / 2));
    await fh.close();
    const damaged = await readFile(logPath);
    const plain = await plainLevelDbCount();
    expect(plain).toBeLessThan(1000); // LevelDB alone drops records here, silently

    const o = await openOutbox(data, { maxSizeBytes: BIG, sync: true });
    const [c] = o.db.corruptionsFound;
    expect(c).toMatchObject({ found: 'log-damaged', outcome: 'recovered', recordsBefore: 1000, recordsAfter: plain, lostRecords: 1000 - plain });
    expect(c?.detail).toMatch(/dropping \d+ bytes/);
    expect(o.outbox.size).toBe(plain);
    // Still a working store: new records go in after the survivors.
    await o.outbox.append(recs(5000, 10));
    const all = await readAll(o.outbox);
    expect(all).toHaveLength(plain + 10);
    await o.close();

    const [aside] = await asideDirs();
    expect(aside).toBe(c?.keptAt);
    expect(sha(await readFile(`${String(aside)}/${String(log)}`))).toBe(sha(damaged));
    expect(JSON.parse(await readFile(`${String(aside)}/REPORT.json`, 'utf8'))).toMatchObject({ found: 'log-damaged', lostRecords: 1000 - plain });

    // The next open is clean: the damage was reported once, not at every start.
    const again = await openOutbox(data, { maxSizeBytes: BIG, sync: true });
    expect(again.db.corruptionsFound).toEqual([]);
    expect(again.outbox.size).toBe(plain + 10);
    await again.close();
  });

  it('repairs a garbage CURRENT file instead of failing every start, loses nothing, and keeps the garbage aside', async () => {
    await fill(0, 500);
    await fill(500, 500); // the first 500 are in a table now, the rest in the log
    const garbage = randomBytes(40);
    await writeFile(`${data}/CURRENT`, garbage);
    await expect(new ClassicLevel(`${dir.path}/data`).open()).rejects.toThrow(); // plain LevelDB: every start fails

    const o = await openOutbox(data, { maxSizeBytes: BIG, sync: true });
    const [c] = o.db.corruptionsFound;
    expect(c).toMatchObject({ found: 'open-failed', outcome: 'repaired', recordsBefore: 1000, recordsAfter: 1000, lostRecords: 0 });
    expect(o.outbox.size).toBe(1000);
    const ks = (await readAll(o.outbox)).map((r) => r.suffix);
    expect(new Set(ks).size).toBe(1000);
    await o.close();
    const [aside] = await asideDirs();
    expect(sha(await readFile(`${String(aside)}/CURRENT`))).toBe(sha(garbage));
  });

  it('repairs around a truncated table: keeps every record of the intact tables, counts the lost ones, keeps the table aside', async () => {
    await fill(0, 500);
    await fill(500, 300); // the open converts the first log into a table
    const firstTables = await filesMatching(data, /\.(ldb|sst)$/);
    await fill(800, 200); // and this one the second log
    const o0 = await openOutbox(data, { maxSizeBytes: BIG, sync: true });
    await o0.close(); // the third log (200 records) becomes a table too
    const tables = await filesMatching(data, /\.(ldb|sst)$/);
    expect(tables.length).toBeGreaterThanOrEqual(3);
    // Truncate the table that holds records 500..799.
    const [second] = tables.filter((t) => !firstTables.includes(t)).sort();
    const path = `${data}/${String(second)}`;
    const original = await readFile(path);
    await truncate(path, Math.floor(original.length / 2));

    const o = await openOutbox(data, { maxSizeBytes: BIG, sync: true });
    const [c] = o.db.corruptionsFound;
    expect(c).toMatchObject({ found: 'read-failed', recordsBefore: 1000 });
    expect(c?.outcome).toBe('repaired');
    const survivors = (await readAll(o.outbox)).length;
    expect(c?.recordsAfter).toBe(survivors);
    expect(c?.lostRecords).toBe(1000 - survivors);
    // The two intact tables' records (0..499 and 800..999) are all there.
    expect(survivors).toBeGreaterThanOrEqual(700);
    await o.close();
    const [aside] = await asideDirs();
    expect((await readFile(`${String(aside)}/${String(second)}`)).length).toBe(Math.floor(original.length / 2));
  });

  it('counts records missing against the tally even when LevelDB reports nothing', async () => {
    await fill(0, 100);
    // A tally that says more than LevelDB has (as after a silent loss): written by a clean close.
    const tally = await readFile(`${data}/store-tally`, 'utf8');
    await writeFile(`${data}/store-tally`, tally.replace(/records=\d{12}/, 'records=000000000150'));
    const o = await openOutbox(data, { maxSizeBytes: BIG, sync: true });
    expect(o.db.corruptionsFound[0]).toMatchObject({ found: 'records-missing', outcome: 'recovered', recordsBefore: 150, recordsAfter: 100, lostRecords: 50 });
    expect(o.outbox.size).toBe(100);
    await o.close();
  });

  it('says the loss is unknown when there is no tally to count against', async () => {
    await fill(0, 100);
    await writeFile(`${data}/store-tally`, 'not a tally');
    await writeFile(`${data}/CURRENT`, 'garbage');
    const o = await openOutbox(data, { maxSizeBytes: BIG, sync: true });
    expect(o.db.corruptionsFound[0]).toMatchObject({ found: 'open-failed', outcome: 'repaired', recordsBefore: null, recordsAfter: 100, lostRecords: null });
    await o.close();
  });
});

describe('store corruption through the gateway', () => {
  it('starts on a damaged log and reports the loss as an event, a health reason and a metric', async () => {
    await fill(0, 1000);
    const [log] = await filesMatching(data, /\.log$/);
    const logPath = `${data}/${String(log)}`;
    const fh = await open(logPath, 'r+');
    await fh.write(randomBytes(200), 0, 200, Math.floor((await fh.stat()).size / 3));
    await fh.close();
    const plain = await plainLevelDbCount();

    const lines: Record<string, unknown>[] = [];
    const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) });
    const registry = builtinRegistry();
    const config = parseConfig(testGatewayConfig({ id: 'gw-corrupt', dataDir: data, url: `mqtt://127.0.0.1:${await freePort()}`, healthListen: '127.0.0.1:0' }), 'test', registry);
    const gw = await Gateway.create(config, registry, { logger });
    try {
      await gw.start();
      const event = lines.find((l) => l['event'] === 'store.corruption');
      expect(event).toMatchObject({ level: 50, component: 'store', code: 'E_STORE_CORRUPT', found: 'log-damaged', lostRecords: 1000 - plain, recordsAfter: plain });
      const h = gw.health();
      expect(h.status).toBe('degraded');
      expect(h.reasons.find((r) => r.startsWith('store: damaged at open'))).toContain(`${1000 - plain} records could not be recovered`);
      expect(h.store.records.telemetry).toBe(plain);
      const metrics = await (await fetch(`http://127.0.0.1:${String(gw.healthPort)}/metrics`)).text();
      expect(metrics).toContain(`edgewise_store_corruption_lost_records{found="log-damaged",outcome="recovered"} ${1000 - plain}`);
      expect(metrics).toContain('edgewise_store_corruptions_total 1');
      expect(metrics).toMatch(/edgewise_events_total\{event="store.corruption",component="store",code="E_STORE_CORRUPT"\} 1/);
    } finally {
      await gw.stop();
    }
  });
});
