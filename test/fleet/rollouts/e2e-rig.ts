import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pino } from 'pino';
import { expect } from 'vitest';
import { parseConfig } from '../../../runtime/config/load.js';
import { Gateway } from '../../../runtime/gateway.js';
import { builtinRegistry } from '../../../runtime/plugins.js';
import { FleetProcess } from '../../support/fleet-process.js';
import { seedFleetDatabase } from '../../support/pglite-template.js';
import { fleetApi, type useFleetTestRig } from '../../support/fleet-test-rig.js';
import { runCli } from '../../support/gateway-process.js';
import type { TufRig } from '../../support/tuf-rig.js';
import { waitFor } from '../../support/wait-for.js';

export type FleetApi = (path: string) => Promise<Record<string, unknown>>;

/**
 * A fleet process (embedded broker, PGlite) serving the TUF rig's repository, and `n`
 * gateways provisioned through the CLI and running in this process with the real updater.
 * `extraYaml` adds to each gateway's config (devices and pipelines, say). The caller stops
 * the gateways (they are pushed onto `gateways`); the fleet is killed at the rig's cleanup.
 * `options` runs the same against another broker: see `RigOptions`.
 */
export async function startFleetAndGateways(
  rig: ReturnType<typeof useFleetTestRig>,
  tuf: TufRig,
  n: number,
  gateways: Gateway[],
  extraYaml: (id: string, i: number) => string = () => '',
  options: RigOptions = {},
): Promise<{ data: string; api: FleetApi; fleet: FleetProcess }> {
  const data = join(rig.dir.path, 'fleet');
  // A new data directory with PGlite's initdb already done (test/support/pglite-template.ts): the fleet's first start goes on from there.
  await seedFleetDatabase(data);
  const extraArgs = [...((await options.beforeFleet?.(data)) ?? []), ...(options.fleetArgs ?? [])];
  // Ports 0: the fleet binds what it gets and reports it (provisioning writes the broker URL it reports).
  const { fleet, endpoints } = await FleetProcess.start(data, undefined, ['--repo', `${tuf.dir}/repo`, '--repo-url', tuf.url, ...extraArgs]);
  rig.onCleanup(() => fleet.kill('SIGKILL'));
  const api = await fleetApi(endpoints.localApiUrl, data);
  const registry = builtinRegistry();
  const ids = Array.from({ length: n }, (_, i) => `gw-${i}`);
  // Provisioned four at a time (each `fleet provision` is a process that goes through the API).
  for (let i = 0; i < ids.length; i += 4) {
    await Promise.all(
      ids.slice(i, i + 4).map(async (id) => {
        const p = await runCli(['fleet', 'provision', '--data', data, '--id', id, '--out', join(rig.dir.path, id), '--gateway-config-dir', join(rig.dir.path, id)]);
        expect(p.code, p.stderr).toBe(0);
      }),
    );
  }
  await options.beforeGateways?.(data, ids);
  // Created and started together (each start waits mostly on its store and the broker); `gateways` keeps the id order.
  const settled = await Promise.allSettled(
    ids.map(async (id, i) => {
      // The provisioned section as it is, with the rest of a gateway's config around it.
      const section = await readFile(join(rig.dir.path, id, 'gateway.yaml'), 'utf8');
      const yaml = `gateway: { id: ${id}, dataDir: ${JSON.stringify(join(rig.dir.path, id, 'data'))} }\nhealth: { intervalMs: 1000 }\nlog: { level: warn }\n${extraYaml(id, i)}${section}`;
      return Gateway.create(parseConfig(yaml, `${id}.yaml`, registry), registry, { logger: pino({ level: 'silent' }) });
    }),
  );
  // Every one that was made is the caller's to stop, even when another failed.
  const made = settled.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  gateways.push(...made);
  const failed = settled.find((r) => r.status === 'rejected');
  if (failed !== undefined) throw failed.reason;
  await Promise.all(made.map((gw) => gw.start()));
  // Degraded is connected too (a stage waiting for its first managed model says so).
  await waitFor(
    async () => {
      const c = await api('/v1/gateway-counts');
      return (c['online'] as number) + (c['degraded'] as number) === n;
    },
    `all ${n} gateways online`,
    30_000,
    100,
  );
  return { data, api, fleet };
}

/** How `startFleetAndGateways` runs against an external broker; the defaults are the embedded one. */
export interface RigOptions {
  /** Runs before the fleet starts, on its (not yet created) data directory; returns more arguments for `edgewise fleet`. */
  readonly beforeFleet?: (data: string) => Promise<readonly string[] | void>;
  /** More arguments for `edgewise fleet` (after those of `beforeFleet`). */
  readonly fleetArgs?: readonly string[];
  /** Runs after every gateway is provisioned and before any starts (write the broker's password and ACL files, say). */
  readonly beforeGateways?: (data: string, ids: readonly string[]) => Promise<void>;
}

/** Creates a rollout with the CLI and returns its id. */
export async function createRollout(data: string, args: readonly string[]): Promise<string> {
  const r = await runCli(['fleet', 'rollout', 'create', '--data', data, ...args, '--json']);
  expect(r.code, r.stderr).toBe(0);
  return (JSON.parse(r.stdout) as { rollout: { id: string } }).rollout.id;
}

export async function rolloutState(api: FleetApi, id: string): Promise<string> {
  return ((await api(`/v1/rollouts/${id}`))['rollout'] as { state: string }).state;
}
