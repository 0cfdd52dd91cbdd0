import { describe, expect, it } from 'vitest';
import type { AnomalyStage } from '../../../models/anomaly/anomaly-stage.js';
import { anomalyStagePlugin } from '../../../models/anomaly/index.js';
import type { RecordInput } from '../../../runtime/pipeline/record.js';
import { MotorSignals } from '../../../sim/mcu/signals.js';
import { defaultBackend } from '../../support/inference-backend.js';
import { quietEvents } from '../../support/store.js';

const RATE = 100;
const T0 = Date.UTC(2026, 10, 30, 8);
const DRIFT_AT_S = 30;

type StageConfig = Parameters<typeof anomalyStagePlugin.create>[0];

async function stage(config: Omit<StageConfig, 'type'>): Promise<AnomalyStage> {
  return (await anomalyStagePlugin.create({ type: 'anomaly', ...config }, { backend: defaultBackend(), gatewayId: 'gw', stateDir: '/tmp/edgewise-test-no-state', decisions: { append: async () => undefined }, events: quietEvents('anomaly') })) as AnomalyStage;
}

/** A running motor, its temperature drifting from DRIFT_AT_S on; the start of each alert raised, in seconds. */
async function raisedDuringDrift(s: AnomalyStage, seconds: number): Promise<number[]> {
  const motor = new MotorSignals(5, {}, { running: true });
  const starts: number[] = [];
  for (let n = 0; n < seconds * RATE; n += 5) {
    const values: Record<string, number[]> = { vibration: [], temperature: [], current: [] };
    for (let i = n; i < n + 5; i += 1) {
      if (i === DRIFT_AT_S * RATE) motor.setFault('drift', true, i);
      const [v, t, c] = motor.sample(i, RATE) as [number, number, number];
      values['vibration']?.push(v);
      values['temperature']?.push(t);
      values['current']?.push(c);
    }
    const record: RecordInput = { stream: 'motor', class: 'telemetry', ts: T0 + (n * 1000) / RATE, data: { rateHz: RATE, values } };
    for (const out of await s.process([record])) {
      const d = out.data as { state: string; start: number };
      if (out.class === 'alert' && d.state === 'raised') starts.push((d.start - T0) / 1000);
    }
  }
  return starts;
}

describe('the streaming detector with a drift band of its own time scale', () => {
  const alert = { minDurationMs: 3500, cooldownMs: 10_000 };

  it('catches a drift of 6 degC a minute within seconds with a band of the last 20 s; the default band (30 min of history) does not yet judge it', async () => {
    const short = await stage({ alert, streaming: { bandLagMs: 5000, bandMinHistoryMs: 20_000, bandBlockMs: 1000, bandMargin: 0.5 } });
    const caught = await raisedDuringDrift(short, DRIFT_AT_S + 15);
    expect(caught).toHaveLength(1);
    expect((caught[0] as number) - DRIFT_AT_S).toBeGreaterThanOrEqual(0);
    expect((caught[0] as number) - DRIFT_AT_S).toBeLessThan(8);

    const plant = await stage({ alert });
    expect(await raisedDuringDrift(plant, DRIFT_AT_S + 15)).toEqual([]);
    // Another band is another model: the decision log can tell them apart.
    expect(short.stats()['modelHash']).not.toBe(plant.stats()['modelHash']);
    expect((await stage({ alert, streaming: {} })).stats()['modelHash']).toBe(plant.stats()['modelHash']);
  });
});
