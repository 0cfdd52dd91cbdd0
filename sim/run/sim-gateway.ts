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
import { gatewayYaml } from './gateway-yaml.js';
import { SerialLink } from '../faults/serial-link.js';
import { TcpProxy } from '../faults/tcp-proxy.js';

/** One simulated gateway with what it reads: its serial cable and MCU (when its group has one). */
export interface SimGateway {
  readonly id: string;
  readonly group: GatewayGroup;
  readonly gateway: Gateway;
  readonly mcu: SimulatedMcu | null;
  /** The socat pair between MCU and gateway: a cable-pull fault pulls and restores it. */
  readonly cable: SerialLink | null;
  /** The gateway's way to the broker: a broker outage or a partition cuts it. */
  readonly proxy: TcpProxy;
  /** Wall clock when the MCU booted: sample i was taken at about mcuStartMs + i / rate. */
  readonly mcuStartMs: number;
}

export interface StartGatewayContext {
  readonly dir: string;
  readonly fleet: FleetRegistry;
  readonly brokerUrl: string;
  readonly plugins: PluginRegistry;
  readonly logger: Logger;
  readonly seed: number;
}

/**
 * Provisions the gateway through the fleet's registry (its site and labels as the scenario
 * gives them), plugs in its cable and MCU, and starts it in this process with its real config.
 * Whatever started is stopped again if a later step fails.
 */
export async function startSimGateway(id: string, index: number, group: GatewayGroup, ctx: StartGatewayContext): Promise<SimGateway> {
  const provisioned = await ctx.fleet.provision({ id, site: group.site, labels: fleetLabels(group), replace: true });
  // The gateway reaches the broker through its own proxy, which the network faults cut.
  const broker = new URL(ctx.brokerUrl);
  const proxy = await TcpProxy.start({ name: id, targetHost: broker.hostname, targetPort: Number(broker.port) });
  const section = gatewayConfigSection(provisioned, { brokerUrl: proxy.url });
  const base = join(ctx.dir, id);
  await mkdir(ctx.dir, { recursive: true });
  // One seed per gateway from the run's (both schemas take 0 to 2^32 - 1).
  const seed = (ctx.seed * 7919 + index) % 2 ** 32;
  let cable: SerialLink | null = null;
  let mcu: SimulatedMcu | null = null;
  try {
    if (group.mcu !== null) {
      cable = new SerialLink({ name: id, mcuPath: `${base}-mcu.tty`, gatewayPath: `${base}-gw.tty` });
      await cable.start();
    }
    const yaml = gatewayYaml({ id, group, dataDir: join(base, 'data'), serialPath: cable?.gatewayPath ?? null, provisioned: section, seed });
    const gateway = await Gateway.create(parseConfig(yaml, `${id} (simulated)`, ctx.plugins), ctx.plugins, { logger: ctx.logger.child({ gw: id }) });
    try {
      await gateway.start();
    } catch (err) {
      await gateway.stop().catch(() => undefined);
      throw err;
    }
    let mcuStartMs = 0;
    if (group.mcu !== null && cable !== null) {
      mcu = new SimulatedMcu({ path: cable.mcuPath, rateHz: group.mcu.rateHz, seed, deviceId: `${id}-mcu` });
      mcuStartMs = Date.now();
      mcu.start();
    }
    return { id, group, gateway, mcu, cable, proxy, mcuStartMs };
  } catch (err) {
    await mcu?.stop().catch(() => undefined);
    await cable?.close().catch(() => undefined);
    await proxy.close().catch(() => undefined);
    throw err;
  }
}
