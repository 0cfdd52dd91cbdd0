import { describe, expect, it } from 'vitest';
import { anomalyStagePlugin } from '../../../models/anomaly/index.js';
import { parseConfig } from '../../../runtime/config/load.js';
import type { Stage } from '../../../runtime/pipeline/components.js';
import type { RecordInput } from '../../../runtime/pipeline/record.js';
import { builtinRegistry } from '../../../runtime/plugins.js';
import { FAULT_KINDS, MOTOR_CHANNELS, MotorSignals, type FaultKind } from '../../../sim/mcu/signals.js';
import { gatewayYaml, MCU_DEVICE_ID } from '../../../sim/run/gateway-yaml.js';
import type { GatewayGroup } from '../../../sim/scenario/types.js';
import { defaultBackend } from '../../support/inference-backend.js';
import { quietEvents } from '../../support/store.js';

/**
 * The anomaly stage exactly as the simulator configures it (gateway-yaml.ts, parsed like a
 * gateway parses it) on the simulator's motor (running when sampling starts, as its MCUs are),
 * fed as the serial sensor feeds it: one record per ~50 ms frame. The scenario's time scale:
 * 30 s of normal running before the fault, a fault of 15 s, then 30 s more.
 */
const T0 = Date.UTC(2026, 10, 30, 8);
const WARM_S = 30;
const FAULT_S = 15;
const AFTER_S = 30;

interface Raised {
  readonly startS: number;
  readonly channels: readonly string[];
}

async function simStage(rateHz: number): Promise<Stage> {
  const group: GatewayGroup = { group: 'press', count: 1, site: 'plant-1', labels: {}, mode: 'in-process', mcu: { rateHz }, camera: null, synthetic: null, storeBudgetBytes: 1 << 30 };
  const yaml = gatewayYaml({ id: 'press-1', group, dataDir: '/tmp/sim-alerts-test', serialPath: '/tmp/sim-alerts-test.tty', provisioned: 'uplink:\n  url: mqtt://127.0.0.1:1883\n  clientId: gw-press-1\n', seed: 1 });
  const config = parseConfig(yaml, 'sim', builtinRegistry());
  const stage = config.pipelines.find((p) => p.source === MCU_DEVICE_ID)?.stages[0];
  expect(stage?.type).toBe('anomaly');
  return anomalyStagePlugin.create(stage?.config as Parameters<typeof anomalyStagePlugin.create>[0], {
    backend: defaultBackend(),
    gatewayId: 'press-1',
    stateDir: '/tmp/sim-alerts-test-state',
    decisions: { append: async () => undefined },
    events: quietEvents('anomaly'),
  });
}

/**
 * Plays one motor through the stage; returns the alerts raised, their starts in seconds from the
 * motor's start. `blipAtS`: one sample of vibration 4 g off there (a knock, not a fault).
 */
async function play(rateHz: number, seed: number, fault: FaultKind | null, blipAtS?: number): Promise<Raised[]> {
  const stage = await simStage(rateHz);
  const motor = new MotorSignals(seed, {}, { running: true });
  const perRecord = Math.round(rateHz / 20);
  const total = (WARM_S + FAULT_S + AFTER_S) * rateHz;
  const raised: Raised[] = [];
  const units = Object.fromEntries(MOTOR_CHANNELS.map((c) => [c.name, c.unit]));
  for (let n = 0; n < total; n += perRecord) {
    const values: Record<string, number[]> = Object.fromEntries(MOTOR_CHANNELS.map((c) => [c.name, []]));
    for (let i = n; i < n + perRecord; i += 1) {
      if (fault !== null && i === WARM_S * rateHz) motor.setFault(fault, true, i);
      if (fault !== null && i === (WARM_S + FAULT_S) * rateHz) motor.setFault(fault, false, i);
      const row = motor.sample(i, rateHz);
      if (blipAtS !== undefined && i === blipAtS * rateHz) row[0] = (row[0] as number) + 4;
      row.forEach((v, c) => values[MOTOR_CHANNELS[c]?.name as string]?.push(v));
    }
    const record: RecordInput = { stream: 'motor', class: 'telemetry', ts: T0 + (n * 1000) / rateHz, data: { n, rateHz, values, units } };
    for (const out of await stage.process([record])) {
      const d = out.data as { state?: string; start?: number; channels?: string[] };
      if (out.class === 'alert' && d.state === 'raised') raised.push({ startS: ((d.start as number) - T0) / 1000, channels: d.channels ?? [] });
    }
  }
  await stage.stop?.();
  return raised;
}

const CHANNELS: Record<FaultKind, readonly string[]> = { 'bearing-wear': ['vibration'], spikes: ['vibration', 'current'], stuck: ['vibration', 'temperature', 'current'], drift: ['temperature'] };
/** How long each kind may take: the drift must first leave the band the last seconds drew (6 degC a minute). */
const MAX_DELAY_S: Record<FaultKind, number> = { 'bearing-wear': 2, spikes: 10, stuck: 2, drift: 8 };

describe("the simulator's anomaly stage on its motors", () => {
  // The default scenario's rates: presses at 200 Hz, packing lines at 100 Hz.
  for (const rateHz of [200, 100]) {
    it(`raises no alert on healthy motors at ${rateHz} Hz (six motors, 75 s each)`, async () => {
      for (let seed = 1; seed <= 6; seed += 1) expect(await play(rateHz, seed, null), `motor ${seed}`).toEqual([]);
    }, 60_000);

    it(`raises no alert on one knock at ${rateHz} Hz (a single surprising sample), on three motors`, async () => {
      for (let seed = 1; seed <= 3; seed += 1) expect(await play(rateHz, seed, null, WARM_S), `motor ${seed}`).toEqual([]);
    }, 60_000);

    for (const kind of FAULT_KINDS) {
      it(`catches ${kind} at ${rateHz} Hz while it is on, on its channel, with nothing else raised (three motors)`, async () => {
        for (let seed = 1; seed <= 3; seed += 1) {
          const raised = await play(rateHz, seed, kind);
          const first = raised[0];
          expect(first, `motor ${seed}: an alert`).toBeDefined();
          const delay = (first as Raised).startS - WARM_S;
          expect(delay, `motor ${seed}: delay`).toBeGreaterThanOrEqual(0);
          expect(delay, `motor ${seed}: delay`).toBeLessThanOrEqual(MAX_DELAY_S[kind]);
          expect((first as Raised).channels.some((c) => CHANNELS[kind].includes(c)), `motor ${seed}: blamed ${(first as Raised).channels.join(', ')}`).toBe(true);
          // The fault's end may raise one more (a stuck sensor let go, a drift gone): never before the fault, never long after.
          for (const a of raised) expect(a.startS, `motor ${seed}`).toBeLessThanOrEqual(WARM_S + FAULT_S + 2);
        }
      }, 60_000);
    }
  }
});
