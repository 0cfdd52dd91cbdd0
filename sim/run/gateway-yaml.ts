import type { GatewayGroup } from '../scenario/types.js';
import { FLEET_MODEL_STAGE } from './fleet-model.js';
import { cameraYaml } from './camera-yaml.js';
import { LEARNING_RESERVOIR_WINDOWS } from './learning-play.js';

/** The MCU's stream: the serial-sensor source and the anomaly pipeline that watches it. */
export const MCU_DEVICE_ID = 'motor';
export const SYNTHETIC_DEVICE_ID = 'load';

export interface GatewayYamlInput {
  readonly id: string;
  readonly group: GatewayGroup;
  readonly dataDir: string;
  /** The gateway's end of its serial cable, when the group has an MCU. */
  readonly serialPath: string | null;
  /** The provisioning section (`uplink`, and `updates` when the fleet has a repository), as the fleet wrote it. */
  readonly provisioned: string;
  readonly seed: number;
  /** `host:port` of the simulator's camera feed, when the group has a camera (camera-feed.ts). */
  readonly cameraAddress?: string | null;
  /**
   * A gateway run as its own process (sim/faults' GatewaySupervisor) logs at info, which is how
   * the supervisor sees it up (its gateway.started line names the health URL), and serves its
   * health report on a free port of 127.0.0.1, which is how the runner reads its counters and
   * outbox. An in-process gateway needs neither: the runner reads it directly.
   */
  readonly process?: boolean;
  /** The MCU pipeline also runs the fleet's model (fleet-model.ts), after its streaming detector: rollouts deliver its releases. */
  readonly fleetModel?: boolean;
  /** The gateway takes part in the scenario's learning round (its `learning` section; see learning-play.ts). */
  readonly learning?: boolean;
}

/**
 * The anomaly stage's alert policy in the simulator: a fault lasts seconds, not hours, so an
 * alert is raised after 3.5 s above the clear threshold (the gateway default is 5 s) and may be
 * raised again 10 s after it cleared (default 5 min: a second fault on the same gateway later in
 * the run would be missed). Smoothing stays at its default 3 s, and the minimum duration stays
 * above it: the policy sees the peak of the last 3 s, so with 2 s one surprising point alone
 * was an alert (one of six healthy 100 Hz motors raised one 95 s in); with 3.5 s the anomaly
 * must recur, as a fault's does (spikes about once a second, a worn bearing at every turn).
 */
const SIM_ALERT_POLICY = '{ minDurationMs: 3500, smoothingMs: 3000, cooldownMs: 10000 }';

/**
 * The streaming detector's drift band on the simulator's time scale: a reading beyond the range
 * it kept over the run so far, except its last 5 s, by half that range is news (the gateway
 * default judges against the range before the last 10 minutes, after 30 minutes of history: no
 * drift would be seen in a run of minutes). Needs motors that run at their working temperature
 * (the simulator's MCUs do): on a motor warming up from cold, the warm-up itself is such a drift.
 */
const SIM_DRIFT_BAND = '{ bandLagMs: 5000, bandMinHistoryMs: 20000, bandBlockMs: 1000, bandMargin: 0.5 }';

/**
 * One simulated gateway's config, as a person would write it: its devices (serial-sensor on
 * the MCU's cable, a synthetic load), an anomaly stage on the MCU, its store budget, and the
 * provisioned section as the fleet handed it out.
 */
export function gatewayYaml(g: GatewayYamlInput): string {
  const devices: string[] = [];
  const pipelines: string[] = [];
  if (g.group.mcu !== null && g.serialPath !== null) {
    devices.push(`  - { id: ${MCU_DEVICE_ID}, type: serial-sensor, path: ${JSON.stringify(g.serialPath)}, baudRate: 921600 }`);
    pipelines.push(`  - id: ${MCU_DEVICE_ID}`, `    source: ${MCU_DEVICE_ID}`, '    stages:', `      - { type: anomaly, detector: streaming, alert: ${SIM_ALERT_POLICY}, streaming: ${SIM_DRIFT_BAND} }`);
    if (g.fleetModel === true) pipelines.push(FLEET_MODEL_STAGE);
  }
  const camera = g.group.camera !== null && g.cameraAddress !== undefined && g.cameraAddress !== null ? cameraYaml(g.cameraAddress, g.group.camera.fps) : null;
  if (camera !== null) {
    devices.push(...camera.devices);
    pipelines.push(...camera.pipelines);
  }
  // A camera group given no camera feed gets a small synthetic stand-in: a gateway has a source.
  const synthetic = g.group.synthetic ?? (g.group.mcu === null && camera === null ? { rateHz: 5, channels: 1 } : null);
  if (synthetic !== null) {
    const { rateHz, channels } = synthetic;
    const chans = Array.from({ length: channels }, (_, i) => `{ name: ch${i + 1}, unit: V, sine: { amplitude: 1, frequencyHz: ${(0.1 * (i + 1)).toFixed(1)} }, noise: { stddev: 0.05 } }`);
    devices.push(`  - { id: ${SYNTHETIC_DEVICE_ID}, type: synthetic, rateHz: ${rateHz}, seed: ${g.seed}, channels: [${chans.join(', ')}] }`);
  }
  return [
    `gateway: { id: ${g.id}, dataDir: ${JSON.stringify(g.dataDir)}, shutdownTimeoutMs: 5000 }`,
    'devices:',
    ...devices,
    ...(pipelines.length === 0 ? [] : ['pipelines:', ...pipelines]),
    `store: { maxSizeBytes: ${g.group.storeBudgetBytes}, sync: false }`,
    g.process === true ? "health: { intervalMs: 1000, listen: '127.0.0.1:0' }" : 'health: { intervalMs: 1000 }',
    `log: { level: ${g.process === true ? 'info' : 'warn'} }`,
    ...(g.learning === true ? [`learning: { enabled: true, reservoirWindows: ${LEARNING_RESERVOIR_WINDOWS}, heldOutShare: 0.2 }`] : []),
    g.provisioned,
  ].join('\n');
}
