import { readFile, writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LEDGER_FILE } from '../../../models/anomaly/alert-ledger.js';
import type { AnomalyStage } from '../../../models/anomaly/anomaly-stage.js';
import { anomalyStagePlugin } from '../../../models/anomaly/index.js';
import { seededRandom } from '../../../devices/synthetic/signals.js';
import type { RecordInput } from '../../../runtime/pipeline/record.js';
import type { DecisionEntry } from '../../../runtime/store/decision-log.js';
import { defaultBackend } from '../../support/inference-backend.js';
import { makeTempDir } from '../../support/temp-dir.js';
import { CapturingEventLog } from '../shadow-support.js';

const RATE = 100;
const PER_RECORD = 10;
const T0 = 1.8e12;

interface AlertData {
  alert: number;
  state: 'raised' | 'reopened' | 'cleared';
  start: number;
  end: number | null;
  endedBy?: string;
  channels: string[];
  model: { name: string };
}

/**
 * A press: vibration is a 1.3 Hz sine with a little noise, temperature noise around 40; from
 * `faultAt` to `faultEnd` (seconds) vibration shakes by up to ±3 g more (a loose mount).
 * Times run on from `fromS`, as a restarted gateway's sensor readings do.
 */
function press(fromS: number, toS: number, faultAt = Number.POSITIVE_INFINITY, faultEnd = Number.POSITIVE_INFINITY, seed = 1): RecordInput[] {
  const random = seededRandom(seed);
  const out: RecordInput[] = [];
  for (let n = fromS * RATE; n < toS * RATE; n += PER_RECORD) {
    const vibration: number[] = [];
    const temperature: number[] = [];
    for (let k = 0; k < PER_RECORD; k += 1) {
      const t = (n + k) / RATE;
      vibration.push(Math.sin(2 * Math.PI * 1.3 * t) + 0.05 * (random() - 0.5) + (t >= faultAt && t < faultEnd ? 6 * (random() - 0.5) : 0));
      temperature.push(40 + 0.05 * (random() - 0.5));
    }
    out.push({ stream: 'press-1', class: 'telemetry', ts: T0 + (n * 1000) / RATE, data: { n, rateHz: RATE, values: { vibration, temperature }, units: { vibration: 'g', temperature: 'degC' } } });
  }
  return out;
}

/**
 * An alert that, once raised, stays open until the stage stops or dies (no score is below a
 * clearThreshold of 0): what is open at a kill does not depend on the detector's pace.
 */
const HELD = { minDurationMs: 200, smoothingMs: 200, cooldownMs: 0, clearThreshold: 0 };

/** The stage as a gateway builds it (the plug-in opens the ledger in its state dir). */
async function makeStage(stateDir: string, decisions: DecisionEntry[], events = new CapturingEventLog(), alert: Record<string, number> = HELD): Promise<AnomalyStage> {
  return (await anomalyStagePlugin.create(
    { type: 'anomaly', detector: 'streaming', model: { name: 'press-anomaly' }, alert },
    { backend: defaultBackend(), gatewayId: 'gw', stateDir, decisions: { append: async (e) => void decisions.push(e) }, events: events.for('stage:press-1:anomaly') },
  )) as AnomalyStage;
}

/** Feeds records one at a time until `until` holds for an output record (or they run out); returns every alert record. */
async function feed(stage: AnomalyStage, records: readonly RecordInput[], until: (a: AlertData) => boolean = () => false): Promise<AlertData[]> {
  const alerts: AlertData[] = [];
  for (const r of records) {
    for (const o of await stage.process([r])) {
      if (o.class !== 'alert') continue;
      expect(o.stream).toBe('press-1.alerts');
      alerts.push(o.data as AlertData);
    }
    if (alerts.some(until)) break;
  }
  return alerts;
}

const raised = (a: AlertData): boolean => a.state === 'raised';

describe('alert ids across restarts (the stage\'s ledger)', () => {
  let dir: { path: string; remove: () => Promise<void> };
  beforeEach(async () => {
    dir = await makeTempDir();
  });
  afterEach(async () => {
    await dir.remove();
  });

  it('after a kill, the restarted stage clears the alert the dead one left open (endedBy restart) and numbers its next alert on', async () => {
    const stateDir = join(dir.path, 'state');
    const decisions: DecisionEntry[] = [];
    // First life: an alert is raised, and the process dies with it open (no flush, no stop).
    const first = await makeStage(stateDir, decisions);
    const before = await feed(first, press(0, 40, 20), raised);
    const old = before.find(raised);
    expect(old?.alert).toBe(1);
    expect(before.filter((a) => a.state === 'cleared')).toEqual([]);

    // Second life, same state dir: readings go on from 60 s, the fault comes back at 80 s.
    const events = new CapturingEventLog();
    const second = await makeStage(stateDir, decisions, events);
    const after = await feed(second, press(60, 100, 80, Number.POSITIVE_INFINITY, 2), raised);
    const closing = after[0];
    expect(closing).toMatchObject({ alert: 1, state: 'cleared', start: old?.start, endedBy: 'restart', channels: old?.channels, model: { name: 'press-anomaly' } });
    expect(closing?.end).toBe(T0 + 60_000); // the first reading after the restart: when the gateway could look again
    const fresh = after.find(raised);
    expect(fresh?.alert).toBe(2);
    expect(fresh?.start).toBeGreaterThanOrEqual(T0 + 80_000);
    // The audit trail says the same: raised by the first life, cleared by the restart, a new one after.
    expect(decisions.map((d) => d.outcome as { alert: number; state: string; endedBy?: string }).map((o) => [o.alert, o.state, o.endedBy ?? null])).toEqual([
      [1, 'raised', null],
      [1, 'cleared', 'restart'],
      [2, 'raised', null],
    ]);
    expect(events.seen.filter((e) => e.event === 'anomaly.cleared').map((e) => e.fields['endedBy'])).toEqual(['restart']);
    expect(second.stats()).toMatchObject({ alertsOpen: 1, alertLedgerErrors: 0 });

    // A third life without a fault after the second died: alert 2 is cleared; nothing else, and alert 1 is not cleared twice.
    const third = await makeStage(stateDir, decisions);
    const last = await feed(third, press(200, 230));
    expect(last.map((a) => [a.alert, a.state, a.endedBy])).toEqual([[2, 'cleared', 'restart']]);
  });

  it('a stop clears the open alert (endedBy stop); the next start has nothing to clear and ids still go on', async () => {
    const stateDir = join(dir.path, 'state');
    const decisions: DecisionEntry[] = [];
    const first = await makeStage(stateDir, decisions);
    expect((await feed(first, press(0, 40, 20), raised)).find(raised)?.alert).toBe(1);
    const flushed = (await first.flush()).map((r) => r.data as AlertData);
    expect(flushed.map((a) => [a.alert, a.state, a.endedBy])).toEqual([[1, 'cleared', 'stop']]);
    await first.stop();

    const second = await makeStage(stateDir, decisions);
    const after = await feed(second, press(60, 100, 80), raised);
    expect(after.map((a) => [a.alert, a.state])).toEqual([[2, 'raised']]);
  });

  it('an alert cleared by its score says endedBy score and is not cleared again after a restart', async () => {
    const stateDir = join(dir.path, 'state');
    const decisions: DecisionEntry[] = [];
    const scored = { minDurationMs: 200, smoothingMs: 200, cooldownMs: 0 };
    const first = await makeStage(stateDir, decisions, new CapturingEventLog(), scored);
    // The shaking is news for a moment; then the detector has learnt it and the alert ends.
    const alerts = await feed(first, press(0, 60, 20, 40), (a) => a.state === 'cleared');
    expect(alerts.map((a) => [a.alert, a.state, a.endedBy ?? null])).toEqual([
      [1, 'raised', null],
      [1, 'cleared', 'score'],
    ]);
    const second = await makeStage(stateDir, decisions, new CapturingEventLog(), scored);
    expect(await feed(second, press(300, 330))).toEqual([]);
  });

  it('an unreadable ledger is set aside with a warning, and the stage still raises alerts', async () => {
    const stateDir = join(dir.path, 'state');
    await mkdir(stateDir, { recursive: true });
    await writeFile(join(stateDir, LEDGER_FILE), '{"format":"edgewise-alert-ledger","version":1,"nextId":"seven"');
    const events = new CapturingEventLog();
    const stage = await makeStage(stateDir, [], events);
    const warned = events.seen.find((e) => e.event === 'anomaly.alert_ledger_unreadable');
    expect(warned?.fields).toMatchObject({ code: 'E_STATE_INVALID', file: join(stateDir, LEDGER_FILE) });
    expect(String(warned?.fields['reason'])).toMatch(/not JSON/);
    expect(await readFile(join(stateDir, `${LEDGER_FILE}.unreadable`), 'utf8')).toContain('seven');
    expect((await feed(stage, press(0, 40, 20), raised)).find(raised)?.alert).toBe(1);
    // The new ledger replaced the bad one.
    expect(JSON.parse(await readFile(join(stateDir, LEDGER_FILE), 'utf8'))).toMatchObject({ nextId: 2, open: [{ stream: 'press-1', id: 1 }] });
  });

  it('a ledger that cannot be written costs the ids\' memory, not the alerts: they go out, the failure is counted and said', async () => {
    // The state dir's place is taken by a file: nothing can be written under it.
    const stateDir = join(dir.path, 'not-a-dir');
    await writeFile(stateDir, 'x');
    const events = new CapturingEventLog();
    const decisions: DecisionEntry[] = [];
    const stage = await makeStage(stateDir, decisions, events);
    const alerts = await feed(stage, press(0, 40, 20), raised);
    expect(alerts.find(raised)?.alert).toBe(1);
    expect(decisions.length).toBe(1);
    expect(events.seen.find((e) => e.event === 'anomaly.alert_ledger_failed')?.fields).toMatchObject({ code: 'E_STORE_WRITE' });
    expect(stage.stats()['alertLedgerErrors']).toBeGreaterThanOrEqual(1);
  });
});
