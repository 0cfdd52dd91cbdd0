import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Database } from '../../../runtime/store/database.js';
import { DecisionLog, type DecisionEntry } from '../../../runtime/store/decision-log.js';
import { runCli } from '../../support/gateway-process.js';
import { quietEvents } from '../../support/store.js';
import { makeTempDir } from '../../support/temp-dir.js';

const T0 = Date.UTC(2025, 10, 29, 8, 0, 0);
const entry = (ts: number, model: string, i: number): DecisionEntry => ({
  ts,
  kind: i % 2 === 0 ? 'alert' : 'decision',
  stream: 'press-1',
  model: { name: model, version: '3', hash: 'sha256:abc' },
  inputs: { windowMs: 1000 },
  explanation: { channels: { x: 0.7 } },
  outcome: { alert: true, i },
  recordId: i === 0 ? 'rec-0' : null,
});

async function filesOf(dir: string): Promise<string[]> {
  const names = (await readdir(dir)).sort();
  return Promise.all(names.map(async (n) => `${n}:${(await stat(join(dir, n))).size}`));
}

describe('edgewise decisions', () => {
  let dir: { path: string; remove: () => Promise<void> };
  beforeEach(async () => {
    dir = await makeTempDir();
    const db = await Database.open(dir.path, quietEvents());
    const log = await DecisionLog.open(db, { retentionDays: 3650, maxSizeBytes: 1 << 20, sync: true }, quietEvents());
    await log.append(entry(T0, 'vibration-ae', 0));
    await log.append(entry(T0 + 60_000, 'defects', 1));
    await log.append(entry(T0 + 120_000, 'vibration-ae', 2));
    await db.close();
  });
  afterEach(async () => {
    await dir.remove();
  });

  it('prints every entry of a stopped gateway\'s log, one line each, oldest first, and leaves its files as they were', async () => {
    const before = await filesOf(dir.path);
    const r = await runCli(['decisions', '--data', dir.path]);
    expect(r.stderr).toContain('3 entries from a snapshot');
    expect(r.code).toBe(0);
    expect(r.stdout.trim().split('\n')).toEqual([
      '2025-11-29T08:00:00.000Z alert press-1 model=vibration-ae@3 outcome={"alert":true,"i":0} explanation={"channels":{"x":0.7}} record=rec-0',
      '2025-11-29T08:01:00.000Z decision press-1 model=defects@3 outcome={"alert":true,"i":1} explanation={"channels":{"x":0.7}}',
      '2025-11-29T08:02:00.000Z alert press-1 model=vibration-ae@3 outcome={"alert":true,"i":2} explanation={"channels":{"x":0.7}}',
    ]);
    expect(await filesOf(dir.path)).toEqual(before);
  });

  it('filters by --since (ISO or ms) and --model, and prints JSON lines with --json', async () => {
    const iso = await runCli(['decisions', '--data', dir.path, '--since', '2025-11-29T08:01:00Z', '--model', 'vibration-ae', '--json']);
    expect(iso.code).toBe(0);
    const lines = iso.stdout.trim().split('\n').map((l) => JSON.parse(l) as DecisionEntry);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toEqual(entry(T0 + 120_000, 'vibration-ae', 2));
    const ms = await runCli(['decisions', '--data', dir.path, '--since', String(T0 + 1)]);
    expect(ms.stdout.trim().split('\n')).toHaveLength(2);
    const bad = await runCli(['decisions', '--data', dir.path, '--since', 'yesterday']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--since: expected an ISO date/time');
  });

  it('reads the log while a running gateway holds the store\'s LOCK, entries not yet flushed from its write-ahead log included', async () => {
    const db = await Database.open(dir.path, quietEvents());
    try {
      const log = await DecisionLog.open(db, { retentionDays: 3650, maxSizeBytes: 1 << 20, sync: true }, quietEvents());
      await log.append(entry(T0 + 180_000, 'defects', 3));
      const r = await runCli(['decisions', '--data', dir.path, '--model', 'defects']);
      expect(r.code).toBe(0);
      expect(r.stdout.trim().split('\n').map((l) => l.slice(0, 24))).toEqual(['2025-11-29T08:01:00.000Z', '2025-11-29T08:03:00.000Z']);
      // The gateway's store is untouched and still writable.
      await log.append(entry(T0 + 240_000, 'defects', 4));
      expect(await log.list(0, T0 + 1e6, 100)).toHaveLength(5);
    } finally {
      await db.close();
    }
  });

  it('says clearly when the directory holds no store', async () => {
    const empty = await makeTempDir();
    try {
      const r = await runCli(['decisions', '--data', empty.path]);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain('holds no gateway store (no LevelDB CURRENT file)');
    } finally {
      await empty.remove();
    }
  });
});
