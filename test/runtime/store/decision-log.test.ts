import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Database } from '../../../runtime/store/database.js';
import { DecisionLog, type DecisionEntry } from '../../../runtime/store/decision-log.js';
import { quietEvents } from '../../support/store.js';
import { makeTempDir } from '../../support/temp-dir.js';

const DAY = 86_400_000;
const entry = (ts: number, i: number): DecisionEntry => ({
  ts,
  kind: i % 2 === 0 ? 'alert' : 'decision',
  stream: 'press-1',
  model: { name: 'vibration-ae', version: '3', hash: 'sha256:abc' },
  inputs: { windowMs: 1000 },
  explanation: { channels: { x: 0.7, y: 0.1 } },
  outcome: { alert: true, i },
  recordId: null,
});

describe('decision log', () => {
  let dir: { path: string; remove: () => Promise<void> };
  beforeEach(async () => {
    dir = await makeTempDir();
  });
  afterEach(async () => {
    await dir.remove();
  });

  it('keeps entries with model, inputs and explanation, and lists them by time', async () => {
    const db = await Database.open(dir.path, quietEvents());
    const log = await DecisionLog.open(db, { retentionDays: 30, maxSizeBytes: 1 << 20, sync: true }, quietEvents());
    const now = 100 * DAY;
    for (let i = 0; i < 5; i += 1) await log.append(entry(now + i, i));
    const listed = await log.list(now + 1, now + 4, 100);
    expect(listed.map((e) => (e.outcome as { i: number }).i)).toEqual([1, 2, 3]);
    expect(listed[0]?.model).toEqual({ name: 'vibration-ae', version: '3', hash: 'sha256:abc' });
    expect(listed[0]?.explanation).toEqual({ channels: { x: 0.7, y: 0.1 } });
    await db.close();
  });

  it('deletes entries past their retention and counts them, across a restart', async () => {
    const now = 100 * DAY;
    let db = await Database.open(dir.path, quietEvents());
    let log = await DecisionLog.open(db, { retentionDays: 7, maxSizeBytes: 1 << 20, sync: true }, quietEvents());
    await log.append(entry(now - 10 * DAY, 0));
    await log.append(entry(now - 8 * DAY, 1));
    await log.append(entry(now - 6 * DAY, 2));
    await log.append(entry(now, 3));
    await db.close();
    db = await Database.open(dir.path, quietEvents());
    log = await DecisionLog.open(db, { retentionDays: 7, maxSizeBytes: 1 << 20, sync: true }, quietEvents());
    expect(log.stats().entries).toBe(4);
    expect(await log.sweep(now)).toBe(2);
    expect(log.stats()).toMatchObject({ entries: 2, expired: 2, evicted: 0 });
    expect((await log.list(0, now + 1, 10)).map((e) => (e.outcome as { i: number }).i)).toEqual([2, 3]);
    await db.close();
  });

  it('a back-dated entry does not stop the byte bound from holding', async () => {
    const db = await Database.open(dir.path, quietEvents());
    const log = await DecisionLog.open(db, { retentionDays: 30, maxSizeBytes: 2000, sync: false }, quietEvents());
    for (let i = 0; i < 20; i += 1) await log.append(entry(DAY + i, i));
    await log.append(entry(1, 99)); // sorts before everything
    expect(log.stats().bytes).toBeLessThanOrEqual(2000);
    expect((await log.list(0, 2, 10)).map((e) => (e.outcome as { i: number }).i)).toEqual([99]);
    await db.close();
  });

  it('stays within its byte bound by dropping the oldest entries', async () => {
    const db = await Database.open(dir.path, quietEvents());
    const log = await DecisionLog.open(db, { retentionDays: 30, maxSizeBytes: 2000, sync: false }, quietEvents());
    for (let i = 0; i < 50; i += 1) await log.append(entry(DAY + i, i));
    const s = log.stats();
    expect(s.bytes).toBeLessThanOrEqual(2000);
    expect(s.evicted + s.entries).toBe(50);
    const kept = await log.list(0, 2 * DAY, 100);
    expect((kept[kept.length - 1]?.outcome as { i: number }).i).toBe(49);
    expect((kept[0]?.outcome as { i: number }).i).toBe(50 - s.entries);
    await db.close();
  });
});
