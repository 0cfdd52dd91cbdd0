/**
 * A simulator scenario as `edgewise sim SCENARIO.yaml` runs it (issue 16): the plain,
 * validated shape that sim/scenario/load.ts makes from the YAML (with defaults filled in and
 * times in milliseconds from the run's start), and that the runner (sim/run/) drives. The
 * faults carry their own ground truth: the scorecard (sim/score/) compares what the fleet saw
 * with them.
 */

import type { WaveSpec } from '../../fleet/rollouts/plan.js';

/** How a simulated gateway runs: a child process through `bin/edgewise gateway` (kill -9 is real), or in the simulator's own process (cheap: for hundreds). */
export type GatewayMode = 'process' | 'in-process';

/**
 * One group of identical gateways: ids are `<group>-<n>`, n from 1. In the fleet each has the
 * group's site and its labels plus `site=<site>` and `group=<group>` (see `fleetLabels`), so a
 * rollout's selector can name either.
 */
export interface GatewayGroup {
  readonly group: string;
  readonly count: number;
  readonly site: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly mode: GatewayMode;
  /** A simulated sensor MCU on a pseudo-terminal pair made by socat, read by the gateway's serial-sensor source; its anomaly stage watches it. */
  readonly mcu: { readonly rateHz: number } | null;
  /** A simulated conveyor camera (sim/camera) fed to the gateway's vision stage. */
  readonly camera: { readonly fps: number; readonly width: number; readonly height: number; readonly defectShare: number } | null;
  /** A synthetic source (devices/synthetic) with no fault: load without ground truth. */
  readonly synthetic: { readonly rateHz: number; readonly channels: number } | null;
  /** The gateway's store budget; a tiny one makes the "disk full" case. */
  readonly storeBudgetBytes: number;
}

export const SENSOR_FAULT_KINDS = ['bearing-wear', 'spikes', 'stuck', 'drift'] as const;
export type SensorFaultKind = (typeof SENSOR_FAULT_KINDS)[number];

/** Which gateways a fault hits: ids, or a count of a group's (the first n), or all. */
export type GatewayTarget = { readonly ids: readonly string[] } | { readonly group: string; readonly count: number } | { readonly all: true };

export type Fault =
  /** The MCU's fault switched on at atMs and off at atMs + durationMs: an anomaly alert is expected. */
  | { readonly kind: 'sensor'; readonly fault: SensorFaultKind; readonly atMs: number; readonly durationMs: number; readonly gateways: GatewayTarget }
  /** Every gateway's connection to the broker cut (through its TCP proxy) for durationMs. */
  | { readonly kind: 'broker-outage'; readonly atMs: number; readonly durationMs: number }
  /** These gateways' connections cut (their TCP proxies), the rest keep theirs. */
  | { readonly kind: 'partition'; readonly atMs: number; readonly durationMs: number; readonly gateways: GatewayTarget }
  /** kill -9 of each gateway's process (mode `process` only), restarted after restartAfterMs. */
  | { readonly kind: 'kill'; readonly atMs: number; readonly restartAfterMs: number; readonly gateways: GatewayTarget }
  /** The serial cable pulled (the socat pair stopped) for durationMs. */
  | { readonly kind: 'cable-pull'; readonly atMs: number; readonly durationMs: number; readonly gateways: GatewayTarget };

export interface RolloutStep {
  /** `good`: a release that passes its gates; `bad`: one whose golden check (or shadow gate) fails on the canary. */
  readonly release: 'good' | 'bad';
  readonly atMs: number;
  /** Written as the console's waves text (`1, 50%, 100%`), here in the API's form. */
  readonly waves: readonly WaveSpec[];
  /** A label selector (`site=plant-1`); null: every gateway. */
  readonly selector: string | null;
}

export interface LearningStep {
  readonly atMs: number;
  readonly rounds: number;
  /** Gateways that send poisoned updates (the round's robust rule must reject them); `{ ids: [] }`: none. Every one has an MCU. */
  readonly byzantine: GatewayTarget;
  /** An aggregation rule of the fleet (fleet/federated/strategies: fedavg, fedprox, median, trimmed-mean, multi-krum). */
  readonly strategy: string;
}

export interface Scenario {
  readonly name: string;
  readonly description: string;
  readonly seed: number;
  readonly durationMs: number;
  /** Fleet: a temporary data directory unless given; `db`/`broker` as `edgewise fleet` takes them. */
  readonly fleet: { readonly dataDir: string | null; readonly db: string | null; readonly httpPort: number };
  readonly gateways: readonly GatewayGroup[];
  readonly faults: readonly Fault[];
  readonly rollouts: readonly RolloutStep[];
  readonly learning: LearningStep | null;
  /** Where the scorecard goes (JSON and HTML); default a directory under the run's data. */
  readonly reportDir: string | null;
}
