import type { EventStore } from '../../fleet/events/event-store.js';
import type { Scenario } from '../scenario/types.js';
import { targetIds } from '../scenario/targets.js';
import { alertsFromEvents, sensorFaultWindows, type GatewayObservations, type Disruption, type GroundTruth, type LearningRoundObservation, type Observations, type SensorFaultWindow } from '../score/index.js';
import type { RolloutExpectation, RolloutObservation } from '../score/index.js';
import type { DeliveryTap } from './delivery-tap.js';
import { fromFleetModel } from './fleet-model.js';
import type { SimGateway } from './sim-gateway.js';

/** At most this many alert events are read per gateway (a run that raises more is broken anyway; they are counted as the first 10,000). */
const MAX_ALERT_EVENTS = 10_000;

export interface TruthInput {
  readonly scenario: Scenario;
  readonly ids: readonly string[];
  readonly gateways: ReadonlyMap<string, SimGateway>;
  /** Per MCU gateway, its boot and the samples it took by the time it stopped. */
  readonly mcuTruth: ReadonlyMap<string, { readonly produced: number; readonly boot: number }>;
  readonly runStartMs: number;
  readonly runEndMs: number;
  readonly durationMs: number;
  /** The disruptions the runner played (cable pulls so far), with their wall-clock times. */
  readonly disruptions?: readonly Disruption[];
  /** The rollouts the runner created (rollout-play.ts), with their ids. */
  readonly rollouts?: readonly RolloutExpectation[];
}

/**
 * The ground truth of what this runner played: each MCU's fault log (sample indices, turned
 * into wall-clock time by the MCU's rate from its boot) and what each MCU produced.
 */
export function collectTruth(t: TruthInput): GroundTruth {
  const sensorFaults: SensorFaultWindow[] = [];
  const mcuSamples: Record<string, { boot: number; produced: number }[]> = {};
  for (const g of t.gateways.values()) {
    if (g.mcu === null || g.group.mcu === null) continue;
    const rateHz = g.group.mcu.rateHz;
    sensorFaults.push(...sensorFaultWindows(g.id, g.mcu.faultLog, (i) => g.mcuStartMs + (i * 1000) / rateHz, t.runEndMs));
    const m = t.mcuTruth.get(g.id);
    if (m !== undefined) mcuSamples[g.id] = [m];
  }
  // Rollouts and learning the scenario asks for are expected whether or not this runner plays
  // them yet: one it did not play has no observation and fails its verdict, rather than
  // passing because nothing was expected.
  const rollouts = t.rollouts ?? t.scenario.rollouts.map((r, i) => ({ rolloutId: `not-played-${i + 1}`, release: r.release, stopAtWave: 0 }));
  const l = t.scenario.learning;
  const learning = l === null ? null : { rounds: l.rounds, byzantineIds: targetIds(t.scenario, l.byzantine), strategy: l.strategy };
  const defectiveParts = [...t.gateways.values()].flatMap((g) => g.camera?.truth() ?? []);
  return { runStartMs: t.runStartMs, runEndMs: t.runEndMs, gatewayIds: t.ids, sensorFaults, defectiveParts, disruptions: [...(t.disruptions ?? [])], mcuSamples, rollouts, learning };
}

export interface ObservationInput {
  readonly ids: readonly string[];
  readonly gateways: ReadonlyMap<string, SimGateway>;
  readonly tap: DeliveryTap;
  readonly events: EventStore;
  readonly startedMs: number;
  readonly endedMs: number;
  /** The learning rounds as the fleet's API reported them (learning-play.ts); none when the scenario has none. */
  readonly learning?: readonly LearningRoundObservation[];
  /** Each rollout the runner created, as the fleet's rollout store reports it at the end. */
  readonly rollouts?: readonly RolloutObservation[];
}

/** What the broker's consumer saw, each gateway's own counters, and the alerts the fleet stored. */
export async function collectObservations(o: ObservationInput): Promise<Observations> {
  const gateways: GatewayObservations[] = [];
  for (const id of o.ids) {
    const tap = o.tap.gateways.get(id);
    const g = o.gateways.get(id);
    if (tap === undefined || g === undefined) continue;
    const stored = await o.events.query({ gatewayId: id, kind: 'alert', limit: MAX_ALERT_EVENTS });
    // The fleet model's stage (fleet-model.ts) alerts too; the run scores the streaming detector's alerts only.
    const { alerts } = alertsFromEvents(stored.filter((e) => !fromFleetModel(e.data)).map((e) => ({ gatewayId: e.gatewayId, recordId: e.recordId, kind: e.kind, stream: e.stream, ts: e.ts, data: e.data })));
    gateways.push({
      gatewayId: id,
      delivery: tap.tally.snapshot(),
      counters: await g.counters(),
      latency: tap.latency.snapshot(),
      alerts,
      // The fleet holds every defect event the broker passed on within 10 s (its ingest writes in batches).
      defects: g.camera === null ? [] : await g.camera.observations(o.events, 10_000),
      // In-process gateways share the simulator's process: none of their own; a process gateway's from its supervisor.
      resources: g.resources(),
    });
  }
  return { startedMs: o.startedMs, endedMs: o.endedMs, gateways, rollouts: [...(o.rollouts ?? [])], learning: [...(o.learning ?? [])] };
}
