import { pino } from 'pino';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { AnomalyStage, ANOMALY_DEFAULTS } from '../../../models/anomaly/index.js';
import { EventLog } from '../../../runtime/health/events.js';
import type { RecordInput } from '../../../runtime/pipeline/record.js';
import type { DecisionEntry } from '../../../runtime/store/decision-log.js';
import { FAULT_KINDS, MOTOR_CHANNELS, MotorSignals, type FaultKind } from '../../../sim/mcu/signals.js';

const RATE = 200;
const PER_RECORD = 20;
const T0 = Date.UTC(2026, 10, 24);

/** Records of the simulated motor, as the serial sensor would store them. */
function* motorRecords(seconds: number, seed: number, fault?: { kind: FaultKind; atSecond: number }): Generator<RecordInput> {
  const sig = new MotorSignals(seed);
  const units = Object.fromEntries(MOTOR_CHANNELS.map((c) => [c.name, c.unit]));
  for (let n = 0; n < seconds * RATE; n += PER_RECORD) {
    const values: Record<string, number[]> = { vibration: [], temperature: [], current: [] };
    for (let k = 0; k < PER_RECORD; k += 1) {
      if (fault !== undefined && n + k === fault.atSecond * RATE) sig.setFault(fault.kind, true, n + k);
      const [v, t, c] = sig.sample(n + k, RATE) as [number, number, number];
      values['vibration']?.push(v);
      values['temperature']?.push(t);
      values['current']?.push(c);
    }
    yield { stream: 'motor-1', class: 'telemetry', ts: T0 + (n * 1000) / RATE, data: { n, rateHz: RATE, values, units } };
  }
}

function stage(detector: 'streaming' | 'autoencoder', decisions: DecisionEntry[]): AnomalyStage {
  return new AnomalyStage(
    { detector, smoothingMs: ANOMALY_DEFAULTS.alert.smoothingMs, channels: undefined, modelName: undefined, modelVersion: undefined, alert: { ...ANOMALY_DEFAULTS.alert }, scoreEveryMs: 0, autoencoder: { ...ANOMALY_DEFAULTS.autoencoder, trainSamples: 60 * RATE, epochs: 20 } },
    '/tmp/edgewise-test-no-state',
    { append: async (e) => void decisions.push(e) },
    new EventLog(pino({ level: 'silent' }), new Registry()).for('test'),
  );
}

async function run(detector: 'streaming' | 'autoencoder', seconds: number, fault?: { kind: FaultKind; atSecond: number }): Promise<{ alerts: RecordInput[]; decisions: DecisionEntry[] }> {
  const decisions: DecisionEntry[] = [];
  const s = stage(detector, decisions);
  const alerts: RecordInput[] = [];
  for (const r of motorRecords(seconds, 1, fault)) for (const out of await s.process([r])) if (out.class === 'alert') alerts.push(out);
  alerts.push(...s.flush());
  await s.stop();
  return { alerts, decisions };
}

const EXPECTED_CHANNEL: Record<FaultKind, string[]> = { 'bearing-wear': ['vibration'], spikes: ['vibration', 'current'], stuck: ['vibration', 'temperature', 'current'], drift: ['temperature'] };
const MAX_DELAY_S: Record<FaultKind, number> = { 'bearing-wear': 10, spikes: 30, stuck: 10, drift: 15 * 60 };
/** A drift is judged against the band the channel kept before it: it starts after an hour of normal running. */
const FAULT_AT_S: Record<FaultKind, number> = { 'bearing-wear': 5 * 60, spikes: 5 * 60, stuck: 5 * 60, drift: 60 * 60 };

describe('streaming detector on the simulated motor', () => {
  it('raises no alert in 90 minutes without a fault', async () => {
    const { alerts } = await run('streaming', 90 * 60);
    expect(alerts).toEqual([]);
  }, 120_000);

  for (const kind of FAULT_KINDS) {
    it(`catches ${kind} within ${MAX_DELAY_S[kind]} s, on the right channel, and logs the decision`, async () => {
      const at = FAULT_AT_S[kind];
      const { alerts, decisions } = await run('streaming', at + MAX_DELAY_S[kind] + 30, { kind, atSecond: at });
      const raised = alerts.find((a) => (a.data as { state: string }).state === 'raised');
      expect(raised, 'an alert').toBeDefined();
      const d = raised?.data as { start: number; channels: string[]; explanation: Record<string, { contribution: number }>; model: { name: string; hash: string } };
      const delayS = (d.start - (T0 + at * 1000)) / 1000;
      expect(delayS).toBeGreaterThanOrEqual(0);
      expect(delayS).toBeLessThanOrEqual(MAX_DELAY_S[kind]);
      expect(d.channels.some((c) => EXPECTED_CHANNEL[kind].includes(c))).toBe(true);
      expect(d.model.hash).toMatch(/^sha256:[0-9a-f]{64}$/);
      expect(decisions.find((x) => x.kind === 'alert')?.model).toEqual(d.model);
    }, 120_000);
  }
});
