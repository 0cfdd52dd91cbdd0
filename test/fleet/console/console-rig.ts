import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, expect } from 'vitest';
import { parse, stringify } from 'yaml';
import { exportAutoencoder } from '../../../models/anomaly/autoencoder/onnx-export.js';
import { buildModel } from '../../../models/onnx/builder.js';
import { Mlp } from '../../../models/train/mlp.js';
import { cropLuma } from '../../../models/vision/crop.js';
import { parseConfig } from '../../../runtime/config/load.js';
import { Gateway } from '../../../runtime/gateway.js';
import type { RecordInput } from '../../../runtime/pipeline/record.js';
import { defineSource } from '../../../runtime/pipeline/registry.js';
import { builtinRegistry } from '../../../runtime/plugins.js';
import { renderFrame } from '../../../sim/vision/labelled-frames.js';
import { FleetProcess } from '../../support/fleet-process.js';
import { runCli } from '../../support/gateway-process.js';
import { ManualSource } from '../../support/manual-source.js';
import { seedFleetDatabase } from '../../support/pglite-template.js';
import { makeTempDir } from '../../support/temp-dir.js';
import { TufRig } from '../../support/tuf-rig.js';
import { waitFor } from '../../support/wait-for.js';

/** How many gateways the console tests run, and how many of them are offline and degraded. */
export const GATEWAYS = 50;
export const OFFLINE = 5;
export const DEGRADED = 3;

/** gw-00 .. gw-49: two digits, so the id order is the number order. */
export const gatewayId = (i: number): string => `gw-${String(i).padStart(2, '0')}`;
/** Three sites of unequal size, so a per-site table that mixed them up would show it. */
export const siteOf = (i: number): string => (i < 20 ? 'plant-north' : i < 35 ? 'plant-south' : 'plant-east');
/** Two lines, alternating. */
export const lineOf = (i: number): string => (i % 2 === 0 ? 'press' : 'stamp');

/** Which gateway plays which part. */
export const ROLES = {
  /** Waiting for their first managed model (`motor-ae`): degraded, and say why. */
  degraded: [40, 41, 42].map(gatewayId),
  /** A press whose vibration steps up: a real anomaly stage raises a real alert. */
  anomaly: gatewayId(43),
  /** Hands over one recorded defect event with a crop. */
  vision: gatewayId(44),
  /** Started, seen, then stopped: offline. */
  offline: [45, 46, 47, 48, 49].map(gatewayId),
} as const;

export type FleetGet = (path: string, token?: string) => Promise<Record<string, unknown>>;

export interface ConsoleFleet {
  /** The fleet's HTTP root: the console is at `${url}/`, the API under `${url}/v1/`. */
  readonly url: string;
  readonly data: string;
  /** The read-write operator token the fleet made at its first start. */
  readonly token: string;
  readonly tuf: TufRig;
  /** The fleet process now (a restart replaces it). */
  readonly fleet: () => FleetProcess;
  /** Stops the fleet (SIGTERM) and starts it again on the same data and ports; gateways reconnect by themselves. */
  restartFleet(): Promise<void>;
  /** Stops the fleet (SIGKILL) and resolves when it is gone; `restartFleet` brings it back. */
  killFleet(): Promise<void>;
  /** Stops a running gateway (cleanly: it says it goes offline when the broker is there to hear it). */
  stopGateway(id: string): Promise<void>;
  /** Running gateways by id (the offline ones are stopped and absent). */
  readonly gateways: ReadonlyMap<string, Gateway>;
  /** A GET on the API (the read-write token unless another is given); throws on a status other than 200. */
  readonly get: FleetGet;
  /** Any request; the answer's status and JSON body. */
  request(method: string, path: string, body?: unknown, token?: string): Promise<{ status: number; body: Record<string, unknown> }>;
  /** Publishes release `n` of model `press` (output = input x n); `broken` signs a golden output it will not give. Returns its target path. */
  publishPress(n: number, broken?: boolean): Promise<string>;
  /** Publishes release 1 of the anomaly autoencoder `press-ae-model` and makes learning task `press-ae` on it; returns the task id. */
  createLearningTask(): Promise<string>;
}

const GOLDEN = Float32Array.of(1, 2, 3, 4);

/** A source the test drives by hand (the defect event), registered as device type `manual`. */
function manualRegistry(source: ManualSource): ReturnType<typeof builtinRegistry> {
  return builtinRegistry().register(
    defineSource({
      type: 'manual',
      configSchema: { type: 'object', properties: { id: { type: 'string' }, type: { const: 'manual' } }, required: ['id', 'type'], additionalProperties: false } as const,
      emits: ['events'],
      create: () => source,
    }),
  );
}

/** What each kind of gateway runs besides its uplink and updates sections. */
function roleSections(id: string): Record<string, unknown> {
  if (ROLES.degraded.includes(id)) {
    return {
      devices: [{ id: 'motor', type: 'synthetic', rateHz: 10, samplesPerRecord: 5, channels: [{ name: 'vibration', unit: 'g', noise: { stddev: 0.05 } }] }],
      pipelines: [{ id: 'motor', source: 'motor', stages: [{ type: 'anomaly', detector: 'autoencoder', autoencoder: { managed: 'motor-ae', windowSamples: 4, strideSamples: 2 } }] }],
    };
  }
  if (id === ROLES.anomaly) {
    // As test/models/anomaly/gateway-anomaly.test.ts: vibration steps up by 4 g after 3 s.
    return {
      devices: [
        {
          id: 'press-1',
          type: 'synthetic',
          rateHz: 200,
          samplesPerRecord: 20,
          channels: [
            { name: 'vibration', unit: 'g', sine: { amplitude: 1, frequencyHz: 7 }, noise: { stddev: 0.05 }, steps: { everyMs: 3000, height: 4 } },
            { name: 'temperature', unit: 'degC', offset: 41, noise: { stddev: 0.02 } },
          ],
        },
      ],
      pipelines: [{ id: 'press-1', source: 'press-1', stages: [{ type: 'anomaly', model: { name: 'press-anomaly', version: '2026.11' }, scoreEveryMs: 250, alert: { minDurationMs: 300, smoothingMs: 500, cooldownMs: 600_000 } }] }],
    };
  }
  if (id === ROLES.vision) return { devices: [{ id: 'cam-1', type: 'manual' }], pipelines: [{ id: 'cam-1', source: 'cam-1' }] };
  return {};
}

/**
 * A defect event as the vision stage writes one (models/vision/track-events.ts), for a part of
 * the synthetic conveyor rendered with a defect, its crop made by the gateway's own crop code.
 * The vision stage itself (a detector on H.264) is too heavy to run beside 50 gateways on two
 * cores; this record goes through the gateway's real store and uplink with its own credentials.
 */
export function defectRecord(nowMs: number): RecordInput {
  for (let seed = 1; seed < 500; seed += 1) {
    const { frame, parts } = renderFrame(seed, 640, 360);
    const part = parts.find((p) => p.defect !== 'none' && p.visible >= 0.99);
    if (part === undefined) continue;
    const crop = cropLuma(frame, part.box, 96);
    return {
      stream: 'cam-1.events',
      class: 'result',
      ts: nowMs,
      data: {
        event: 'defect',
        track: 7,
        className: part.defect,
        firstTs: nowMs - 800,
        lastTs: nowMs,
        sightings: 8,
        defectSightings: 6,
        best: { ts: nowMs - 200, score: 0.91, box: part.box },
        crop: { png: crop.png, width: crop.width, height: crop.height, region: crop.region },
        model: { name: 'defects', version: '2026.11', hash: `sha256:${'ab'.repeat(32)}` },
      },
    };
  }
  throw new Error('no rendered frame in 500 seeds has a whole defective part');
}

/**
 * One fleet per test file, started before its tests: a fleet process (embedded broker, PGlite)
 * serving the console and the TUF rig's repository, and 50 gateways provisioned through the API
 * and running in this process with the real uplink and updater. 5 are stopped after they were
 * seen (offline), 3 wait for a model (degraded), one raises a real anomaly alert, one sends a
 * defect event with a crop. Everything is stopped after the file's last test.
 */
export function useConsoleFleet(): () => ConsoleFleet {
  let rig: ConsoleFleet | undefined;
  let dir: { path: string; remove: () => Promise<void> } | undefined;
  const running = new Map<string, Gateway>();
  let tuf: TufRig | undefined;
  let fleet: FleetProcess | undefined;

  beforeAll(async () => {
    dir = await makeTempDir('edgewise-console-');
    tuf = new TufRig(join(dir.path, 'tuf'));
    await tuf.start();
    // The first publish writes metadata/1.root.json, which provisioning hands each gateway to pin.
    await tuf.repo.sign('targets', tuf.keys.priv.targets);
    await tuf.repo.publish(tuf.online());
    const data = join(dir.path, 'fleet');
    // Health reports sampled every second (not every minute), so the gateway page's charts have lines within a test.
    const fleetArgs = ['--repo', `${tuf.dir}/repo`, '--repo-url', tuf.url, '--metrics-interval-s', '1'];
    // PGlite's initdb done once for every test file (test/support/pglite-template.ts): the fleet's first start goes on from there.
    await seedFleetDatabase(data);
    const started = await FleetProcess.start(data, undefined, fleetArgs);
    fleet = started.fleet;
    const killFleet = async (): Promise<void> => {
      await fleet?.kill('SIGKILL');
    };
    // Same ports: the gateways and the open page look for the fleet where it was.
    const restartFleet = async (): Promise<void> => {
      await fleet?.kill('SIGTERM');
      fleet = (await FleetProcess.start(data, started.ports, fleetArgs)).fleet;
    };
    const url = started.endpoints.localApiUrl.replace(/\/$/, '');
    const token = (await readFile(join(data, 'operator-token'), 'utf8')).trim();
    const request = async (method: string, path: string, body?: unknown, as = token): Promise<{ status: number; body: Record<string, unknown> }> => {
      const res = await fetch(`${url}${path}`, { method, headers: { authorization: `Bearer ${as}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
      const text = await res.text();
      return { status: res.status, body: (text === '' ? {} : JSON.parse(text)) as Record<string, unknown> };
    };
    const get: FleetGet = async (path, as) => {
      const r = await request('GET', path, undefined, as);
      if (r.status !== 200) throw new Error(`GET ${path}: ${r.status} ${JSON.stringify(r.body)}`);
      return r.body;
    };
    const t = tuf;
    const publishPress = async (n: number, broken = false): Promise<string> => {
      const d = join(t.dir, 'in');
      await mkdir(d, { recursive: true });
      await writeFile(`${d}/m${n}.onnx`, buildModel({ name: 's', inputs: [{ name: 'x', dims: [1, 4] }], outputs: [{ name: 'y', dims: [1, 4] }], initializers: [{ name: 'f', dims: [1], data: [n] }], nodes: [{ op: 'Mul', inputs: ['x', 'f'], outputs: ['y'] }] }));
      await writeFile(`${d}/gi${n}.bin`, new Uint8Array(GOLDEN.buffer));
      await writeFile(`${d}/go${n}.bin`, new Uint8Array(GOLDEN.map((v) => v * (broken ? n + 1 : n)).buffer));
      const path = await t.repo.addModel({ model: `${d}/m${n}.onnx`, goldenInput: `${d}/gi${n}.bin`, goldenOutput: `${d}/go${n}.bin`, release: { model: 'press', release: n, version: `1.${n}`, hardware: { arch: ['x64', 'arm64'], accelerators: ['cpu'] }, minRuntimeVersion: '0.0.1', golden: { inputName: 'x', dims: [1, 4], outputName: 'y', tolerance: '0.0001' }, budgets: { latencyMs: 5000, errorRatePpm: 10_000, probationS: 0 } } });
      await t.repo.sign('targets', t.keys.priv.targets);
      await t.repo.publish(t.online());
      return path;
    };

    const createLearningTask = async (): Promise<string> => {
      // The anomaly autoencoder at its defaults, made by the repo's exporter (as the federated tests do).
      const d = join(t.dir, 'in');
      await mkdir(d, { recursive: true });
      await writeFile(`${d}/ae.onnx`, exportAutoencoder(new Mlp([96, 32, 8, 32, 96], 11), { kind: 'edgewise-autoencoder' }));
      await writeFile(`${d}/ae-golden.bin`, new Uint8Array(16));
      await t.repo.addModel({ model: `${d}/ae.onnx`, goldenInput: `${d}/ae-golden.bin`, goldenOutput: `${d}/ae-golden.bin`, release: { model: 'press-ae-model', release: 1, version: 'v1', hardware: { arch: ['x64', 'arm64'], accelerators: ['cpu'] }, minRuntimeVersion: '0.1.0', golden: { inputName: 'x', dims: [1, 96], outputName: 'reconstruction', tolerance: '0.0001' }, budgets: { latencyMs: 50, errorRatePpm: 1000, probationS: 600 } } });
      await t.repo.sign('targets', t.keys.priv.targets);
      await t.repo.publish(t.online());
      // No gateway here trains it (none matches line=assembly): the task waits in its first round.
      const r = await request('POST', '/v1/learning/tasks', { task: { id: 'press-ae', model: 'press-ae-model', gatewaySelector: 'line=assembly', strategy: { type: 'fedavg' }, localEpochs: 1, learningRate: 0.01, clipNorm: 1, minClients: 3, samplingShare: 1, deadlineMs: 3_600_000 }, rounds: 3 });
      expect(r.status, JSON.stringify(r.body)).toBe(201);
      return r.body['id'] as string;
    };

    // Provisioned through the API, a few at a time: the CLI would start a process per gateway.
    const sections = new Map<string, Record<string, unknown>>();
    const ids = Array.from({ length: GATEWAYS }, (_, i) => gatewayId(i));
    for (let i = 0; i < ids.length; i += 10) {
      await Promise.all(
        ids.slice(i, i + 10).map(async (id, k) => {
          const n = i + k;
          const r = await request('POST', '/v1/gateways', { id, site: siteOf(n), labels: { site: siteOf(n), line: lineOf(n) } });
          expect(r.status, JSON.stringify(r.body)).toBe(201);
          const gwDir = join(dir!.path, id);
          await mkdir(gwDir, { recursive: true });
          expect(r.body['root'], 'the root to pin').not.toBeNull();
          await writeFile(join(gwDir, 'root.json'), JSON.stringify(r.body['root']));
          const section = parse(r.body['config'] as string) as Record<string, Record<string, unknown>>;
          (section['updates'] as Record<string, unknown>)['rootFile'] = join(gwDir, 'root.json');
          sections.set(id, section);
        }),
      );
    }

    const vision = new ManualSource();
    const registry = builtinRegistry();
    const visionRegistry = manualRegistry(vision);
    // Started ten at a time, as they were provisioned: each start waits mostly on I/O (its store, the broker, the repository).
    for (let i = 0; i < ids.length; i += 10) {
      await Promise.all(
        ids.slice(i, i + 10).map(async (id) => {
          const gwDir = join(dir!.path, id);
          const config = { gateway: { id, dataDir: join(gwDir, 'data') }, health: { intervalMs: 1000 }, log: { level: 'warn' }, ...roleSections(id), ...sections.get(id) };
          const r = id === ROLES.vision ? visionRegistry : registry;
          const gw = await Gateway.create(parseConfig(stringify(config), join(gwDir, 'gateway.yaml'), r), r, { logger: pino({ level: 'silent' }) });
          running.set(id, gw);
          await gw.start();
        }),
      );
    }
    await waitFor(
      async () => {
        const c = await get('/v1/gateway-counts');
        return (c['online'] as number) + (c['degraded'] as number) === GATEWAYS;
      },
      `all ${GATEWAYS} gateways connected`,
      60_000,
      200,
    );
    // Offline: seen, then gone.
    for (const id of ROLES.offline) {
      await running.get(id)?.stop();
      running.delete(id);
    }
    await vision.emit([defectRecord(Date.now())]);
    await waitFor(
      async () => {
        const c = await get('/v1/gateway-counts');
        const alerts = (await get(`/v1/events?kind=alert&gateway=${ROLES.anomaly}`))['items'] as unknown[];
        const defects = (await get(`/v1/events?kind=event&gateway=${ROLES.vision}`))['items'] as unknown[];
        return c['offline'] === OFFLINE && c['degraded'] === DEGRADED && c['online'] === GATEWAYS - OFFLINE - DEGRADED && alerts.length > 0 && defects.length > 0;
      },
      `${OFFLINE} offline, ${DEGRADED} degraded, the anomaly alert and the defect event at the fleet`,
      60_000,
      200,
    );
    rig = { url, data, token, tuf, fleet: () => fleet as FleetProcess, restartFleet,
      killFleet,
      stopGateway: async (id) => {
        const g = running.get(id);
        if (g === undefined) throw new Error(`gateway ${id} is not running`);
        running.delete(id);
        await g.stop();
      },
      gateways: running, get, request, publishPress, createLearningTask };
  }, 240_000);

  afterAll(async () => {
    // Stopped in parallel: each waits for its uplink to close.
    await Promise.all([...running.values()].map((g) => g.stop().catch(() => undefined)));
    running.clear();
    await fleet?.kill('SIGKILL');
    await tuf?.stop();
    await dir?.remove();
  }, 120_000);

  return () => {
    if (rig === undefined) throw new Error('the console fleet did not start (see the beforeAll failure)');
    return rig;
  };
}

/** A new operator token made with the CLI (`edgewise fleet token create`), as an operator would. */
export async function createToken(f: ConsoleFleet, role: 'read-only' | 'read-write', name: string): Promise<string> {
  const r = await runCli(['fleet', 'token', 'create', '--data', f.data, '--role', role, '--name', name]);
  expect(r.code, r.stderr).toBe(0);
  return r.stdout.trim();
}
