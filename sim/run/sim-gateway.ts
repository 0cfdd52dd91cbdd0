import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { gatewayConfigSection } from '../../fleet/registry/gateway-config.js';
import type { Registry as FleetRegistry } from '../../fleet/registry/registry.js';
import { parseConfig } from '../../runtime/config/load.js';
import { Gateway } from '../../runtime/gateway.js';
import type { PluginRegistry } from '../../runtime/pipeline/registry.js';
import { SimulatedMcu } from '../mcu/simulated-mcu.js';
import { fleetLabels } from '../scenario/index.js';
import type { GatewayGroup } from '../scenario/types.js';
import type { GatewayCounters, ResourceSample } from '../score/index.js';
import { gatewayYaml } from './gateway-yaml.js';
import { startProcessGateway } from './process-gateway.js';
import { SerialLink } from '../faults/serial-link.js';
import { TcpProxy } from '../faults/tcp-proxy.js';
import type { SimRepo } from './sim-repo.js';
import { SimCamera } from './camera-play.js';
import type { Subscribe } from './delivery-tap.js';

/**
 * One simulated gateway with what it reads (its serial cable and MCU, when its group has one),
 * run in the simulator's process or as a child process (mode `process`): the runner sees both
 * through these few members.
 */
export interface SimGateway {
  readonly id: string;
  readonly group: GatewayGroup;
  readonly mcu: SimulatedMcu | null;
  /** The socat pair between MCU and gateway: a cable-pull fault pulls and restores it. */
  readonly cable: SerialLink | null;
  /** The gateway's way to the broker: a broker outage or a partition cuts it. */
  readonly proxy: TcpProxy;
  /** The conveyor camera the gateway's vision stage watches, when its group has one. */
  readonly camera: SimCamera | null;
  /** Wall clock when the MCU booted: sample i was taken at about mcuStartMs + i / rate. */
  readonly mcuStartMs: number;
  /** The gateway's process (kill -9 and restart); null for an in-process gateway. */
  readonly process: ProcessControl | null;
  /**
   * Stops the sources the gateway runs itself (a synthetic one) once the MCU has stopped. A
   * process gateway keeps them until `stop()`: what they make after the drain is delivered or
   * not, past the counters the run is scored on, so it counts neither way.
   */
  stopSources(): Promise<void>;
  /** Records still in the gateway's edges and outbox; null when it cannot be asked (a process that is down). */
  pendingRecords(): Promise<number | null>;
  /** The gateway's own counters, summed over its process lives. */
  counters(): Promise<GatewayCounters>;
  /** RSS and CPU of its process over its lives; none for an in-process gateway (it shares the simulator's). */
  resources(): readonly ResourceSample[];
  /** Stops the gateway (a process: SIGTERM), its MCU, cable and proxy. */
  stop(): Promise<void>;
}

/** What the `kill` fault does to a process gateway. */
export interface ProcessControl {
  /** Reads its health report one last time (the counters of the life that ends), then kill -9. */
  kill9(): Promise<void>;
  /** Starts it again and waits until it is up. */
  restart(): Promise<void>;
}

export interface StartGatewayContext {
  readonly dir: string;
  readonly fleet: FleetRegistry;
  readonly brokerUrl: string;
  readonly plugins: PluginRegistry;
  readonly logger: Logger;
  readonly seed: number;
  /** The run's TUF repository: given, each gateway gets the provisioned `updates` section (root pinned in its directory) and the MCU gateways run the fleet model. */
  readonly repo?: SimRepo | null;
  /** The embedded broker's subscribe: a camera watches its gateway's records (camera-play.ts). */
  readonly subscribe: Subscribe;
  /** The gateways that take part in the scenario's learning round (their config gets a `learning` section). */
  readonly learners?: ReadonlySet<string>;
}

/** What a gateway of either mode is given: its id, group, config text maker and the parts around it. */
export interface GatewayParts {
  readonly id: string;
  readonly group: GatewayGroup;
  /** The gateway's directory: its config (a process gateway), its data directory. */
  readonly base: string;
  readonly cable: SerialLink | null;
  readonly proxy: TcpProxy;
  readonly camera: SimCamera | null;
  readonly seed: number;
  /** The gateway's config as YAML (`process`: as a child process reads it). */
  readonly yaml: (process: boolean) => string;
}

const sum = (r: Readonly<Record<string, number>>): number => Object.values(r).reduce((n, x) => n + x, 0);

/** Starts the MCU on the cable's far end, once the gateway is up to read it. */
function startMcu(parts: GatewayParts): { mcu: SimulatedMcu | null; mcuStartMs: number } {
  if (parts.group.mcu === null || parts.cable === null) return { mcu: null, mcuStartMs: 0 };
  const mcu = new SimulatedMcu({ path: parts.cable.mcuPath, rateHz: parts.group.mcu.rateHz, seed: parts.seed, deviceId: `${parts.id}-mcu`, runningMotor: true });
  const mcuStartMs = Date.now();
  mcu.start();
  return { mcu, mcuStartMs };
}

/** An in-process gateway: `Gateway.create` with its real config, read directly. */
async function startInProcessGateway(parts: GatewayParts, ctx: StartGatewayContext): Promise<SimGateway> {
  const gateway = await Gateway.create(parseConfig(parts.yaml(false), `${parts.id} (simulated)`, ctx.plugins), ctx.plugins, { logger: ctx.logger.child({ gw: parts.id }) });
  try {
    await gateway.start();
  } catch (err) {
    await gateway.stop().catch(() => undefined);
    throw err;
  }
  const { mcu, mcuStartMs } = startMcu(parts);
  return {
    id: parts.id,
    group: parts.group,
    mcu,
    cable: parts.cable,
    proxy: parts.proxy,
    camera: parts.camera,
    mcuStartMs,
    process: null,
    stopSources: async () => {
      for (const p of gateway.pipelines) await p.stopSource();
    },
    pendingRecords: () => Promise.resolve(gateway.pipelines.reduce((n, p) => n + p.edgeStats().reduce((m, e) => m + e.depthRecords, 0), 0) + sum(gateway.outbox.stats().records)),
    counters: () => {
      const store = gateway.health().store;
      return Promise.resolve({ appended: sum(store.appended), evicted: sum(store.evicted), pendingAtEnd: sum(gateway.outbox.stats().records) });
    },
    resources: () => [],
    stop: async () => {
      await mcu?.stop().catch(() => undefined);
      await gateway.stop().catch(() => undefined);
      await parts.camera?.stop().catch(() => undefined);
      await parts.cable?.close().catch(() => undefined);
      await parts.proxy.close().catch(() => undefined);
    },
  };
}

/**
 * Provisions the gateway through the fleet's registry (its site and labels as the scenario
 * gives them), plugs in its cable and MCU, and starts it with its real config: in this process,
 * or (mode `process`) as `bin/edgewise gateway --config FILE` under a GatewaySupervisor.
 * Whatever started is stopped again if a later step fails.
 */
export async function startSimGateway(id: string, index: number, group: GatewayGroup, ctx: StartGatewayContext): Promise<SimGateway> {
  const provisioned = await ctx.fleet.provision({ id, site: group.site, labels: fleetLabels(group), replace: true });
  // The gateway reaches the broker through its own proxy, which the network faults cut.
  const broker = new URL(ctx.brokerUrl);
  const proxy = await TcpProxy.start({ name: id, targetHost: broker.hostname, targetPort: Number(broker.port) });
  const base = join(ctx.dir, id);
  const updates = ctx.repo == null ? {} : { updates: ctx.repo.updates() };
  const section = gatewayConfigSection(provisioned, { brokerUrl: proxy.url, ...updates }, ctx.repo == null ? {} : { rootFile: await ctx.repo.pinRoot(base) });
  await mkdir(ctx.dir, { recursive: true });
  // One seed per gateway from the run's (both schemas take 0 to 2^32 - 1).
  const seed = (ctx.seed * 7919 + index) % 2 ** 32;
  let cable: SerialLink | null = null;
  let camera: SimCamera | null = null;
  try {
    if (group.mcu !== null) {
      cable = new SerialLink({ name: id, mcuPath: `${base}-mcu.tty`, gatewayPath: `${base}-gw.tty` });
      await cable.start();
    }
    if (group.camera !== null) camera = await SimCamera.start(id, group.camera, seed, ctx.subscribe);
    const serialPath = cable?.gatewayPath ?? null;
    const cameraAddress = camera?.feed.address ?? null;
    const parts: GatewayParts = { id, group, base, cable, proxy, camera, seed, yaml: (process) => gatewayYaml({ id, group, dataDir: join(base, 'data'), serialPath, provisioned: section, seed, process, fleetModel: ctx.repo != null, cameraAddress, learning: ctx.repo != null && ctx.learners?.has(id) === true }) };
    return group.mode === 'process' ? await startProcessGateway(parts, startMcu) : await startInProcessGateway(parts, ctx);
  } catch (err) {
    await camera?.stop().catch(() => undefined);
    await cable?.close().catch(() => undefined);
    await proxy.close().catch(() => undefined);
    throw err;
  }
}
