import { fork, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import mqtt, { type MqttClient } from 'mqtt';
import { encodeBatch, encodeRecord, gatewayTopics } from '../../fleet/protocol/index.js';
import { FleetProcess } from '../support/fleet-process.js';
import { freePort } from '../support/ports.js';
import { PostgresServer } from '../support/postgres.js';
import { makeTempDir } from '../support/temp-dir.js';
import { waitFor } from '../support/wait-for.js';
import { finish, median, progress } from './report.js';

/**
 * `npm run bench -- fleet-ingest [--gateways G] [--messages M] [--db pglite|postgres]`:
 * G MQTT gateway clients (1,000) each publish M messages (health reports and record batches
 * holding an alert, alternately; QoS 1, 4 in flight per gateway) through the fleet's embedded
 * broker, with authentication and ACL, into the registry and the database. The fleet
 * acknowledges a message only after its commit, so the run ends when every PUBACK is in.
 * Baseline, same run: the same clients and messages against a bare aedes broker (no auth)
 * whose in-process subscriber only counts; it ends when the count is complete. Both brokers
 * run in their own process; the clients run in this one. Also reports the fleet's RSS with
 * every gateway connected and after the run.
 */
function arg(args: readonly string[], name: string, fallback: string): string {
  const i = args.indexOf(name);
  return i >= 0 ? (args[i + 1] ?? fallback) : fallback;
}

function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m === null ? 0 : (Number(m[1]) * 1024) / 1e6;
}

/** CPU seconds (user + system) a process has used, from /proc; with `thread`, only that thread's (the main thread's id is the pid). */
function cpuS(pid: number, thread?: number): number {
  const fields = readFileSync(thread === undefined ? `/proc/${pid}/stat` : `/proc/${pid}/task/${thread}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

function healthReport(gw: string, n: number): Buffer {
  const report = {
    gw,
    ts: Date.now() + n,
    runtimeVersion: '0.1.0',
    uptimeS: n,
    status: n % 10 === 0 ? 'degraded' : 'ok',
    reasons: n % 10 === 0 ? ['uplink: reconnecting'] : [],
    store: { budgetBytes: 268435456, records: { telemetry: 10, result: 2, alert: 0 }, bytes: { telemetry: 2150, result: 400, alert: 0 }, appended: { telemetry: 1000 + n, result: 20, alert: 1 }, evicted: { telemetry: 0, result: 0, alert: 0 }, writeErrors: 0, rejected: 0, decisionLog: { entries: 1, bytes: 300, expired: 0, evicted: 0 } },
    uplink: { connected: true, publishedRecords: 1000 + n, ackedRecords: 1000 + n, inFlightMessages: 0, reconnects: 0, lastError: null },
    pipelines: [{ id: 'press', edges: [{ name: 'source', policy: 'block', depthRecords: 0, capacityRecords: 10000, dropped: 0 }], stages: [{ type: 'anomaly', details: { alertsRaised: 1, provider: 'cpu' } }] }],
    sources: [{ id: 'press', type: 'synthetic', emitted: 1000 + n, stored: 1000 + n, dropped: 0 }],
    rssBytes: 80_000_000,
    hardware: { arch: 'arm64', platform: 'linux', cpus: 4, memoryBytes: 4e9, accelerators: ['cpu'] },
    releases: { press: { active: { release: 7, version: '2026.11', sha256: 'ab'.repeat(32) }, standby: null } },
  };
  return Buffer.from(JSON.stringify(report));
}

function alertBatch(gw: string, n: number): Buffer {
  const record = { id: `bench.${n}`, stream: 'press.alerts', class: 'alert' as const, ts: Date.now(), data: { alert: n, state: 'raised', start: Date.now(), end: null, peakScore: 0.62, channels: ['x'], explanation: { x: { contribution: 0.9, unit: 'g' } }, detector: 'streaming', model: { name: 'streaming-anomaly', version: '1.0.0', hash: 'sha256:00' } } };
  return Buffer.from(encodeBatch(gw, Date.now(), [encodeRecord(record)]));
}

interface Gw {
  readonly id: string;
  readonly client: MqttClient;
}

async function connectAll(url: string, ids: readonly string[], passwords: ReadonlyMap<string, string> | undefined): Promise<Gw[]> {
  const out: Gw[] = [];
  // A few at a time: a plant's gateways do not all dial in the same millisecond either.
  for (let i = 0; i < ids.length; i += 50) {
    const chunk = ids.slice(i, i + 50);
    out.push(
      ...(await Promise.all(
        chunk.map(async (id) => ({
          id,
          client: await mqtt.connectAsync(url, { clientId: `edgewise-${id}`, protocolVersion: 4, reconnectPeriod: 0, keepalive: 60, ...(passwords === undefined ? {} : { username: id, password: passwords.get(id) as string }) }),
        })),
      )),
    );
    if (i % 200 === 0) progress(`  connected ${out.length}/${ids.length}`);
  }
  return out;
}

/** Each gateway publishes `messages` messages, at most `window` unacknowledged. Returns seconds until the last PUBACK. */
async function publishAll(gws: readonly Gw[], messages: number, window: number, round: number): Promise<number> {
  const t0 = performance.now();
  await Promise.all(
    gws.map(async (g) => {
      let next = 0;
      const lane = async (): Promise<void> => {
        while (next < messages) {
          const n = next;
          next += 1;
          const k = round * messages + n;
          if (n % 2 === 0) await g.client.publishAsync(gatewayTopics.health(g.id), healthReport(g.id, k), { qos: 1, retain: true });
          else await g.client.publishAsync(gatewayTopics.records(g.id), alertBatch(g.id, k), { qos: 1 });
        }
      };
      await Promise.all(Array.from({ length: window }, lane));
    }),
  );
  return (performance.now() - t0) / 1000;
}

async function endAll(gws: readonly Gw[]): Promise<void> {
  await Promise.all(gws.map((g) => g.client.endAsync().catch(() => undefined)));
}

export async function benchFleetIngest(args: readonly string[]): Promise<void> {
  const G = Number(arg(args, '--gateways', '1000'));
  const M = Number(arg(args, '--messages', '20'));
  const rounds = Number(arg(args, '--rounds', '3'));
  const db = arg(args, '--db', 'pglite');
  // Gateways keep up to 16 messages unacknowledged (uplink.maxInFlight's default).
  const window = Number(arg(args, '--window', '16'));
  const total = G * M;
  const ids = Array.from({ length: G }, (_, i) => `gw-${String(i).padStart(5, '0')}`);
  const tmp = await makeTempDir('edgewise-bench-fleet-');
  let pg: PostgresServer | undefined;
  let bare: ChildProcess | undefined;
  let fleet: FleetProcess | undefined;
  const clients: Gw[] = [];
  try {
    progress(`fleet-ingest: ${G} gateways x ${M} messages per round (health reports and alert batches, QoS 1, ${window} in flight each), ${rounds} alternating rounds`);
    // Baseline: bare aedes with a counting subscriber, in its own process.
    bare = fork(fileURLToPath(new URL('./fleet-bare-broker.js', import.meta.url)), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const b = bare;
    const port = await new Promise<number>((resolve) => b.once('message', (m: { port: number }) => resolve(m.port)));
    const count = (): Promise<number> =>
      new Promise((resolve) => {
        b.once('message', (m: { count: number }) => resolve(m.count));
        b.send({ ask: 'count' });
      });

    // The fleet: embedded broker with auth and ACL, ingest into the database.
    let dbArg = 'embedded';
    if (db === 'postgres') {
      pg = await PostgresServer.start();
      dbArg = pg.createDatabase('fleet_bench');
    }
    const ports = { http: await freePort(), mqtt: await freePort() };
    const data = join(tmp.path, 'fleet');
    progress(`  starting the fleet (${db === 'postgres' ? 'PostgreSQL 15' : 'PGlite'}) and provisioning ${G} gateways through its API`);
    const started = await FleetProcess.start(data, ports, ['--db', dbArg]);
    fleet = started.fleet;
    const pid = fleet.child.pid as number;
    const token = (await readFile(join(data, 'operator-token'), 'utf8')).trim();
    const passwords = new Map<string, string>();
    for (let i = 0; i < ids.length; i += 16) {
      await Promise.all(
        ids.slice(i, i + 16).map(async (id) => {
          const res = await fetch(`${started.endpoints.localApiUrl}/v1/gateways`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ id, labels: { site: `plant-${i % 3}` } }) });
          if (res.status !== 201) throw new Error(`provisioning ${id}: HTTP ${res.status} ${await res.text()}`);
          passwords.set(id, ((await res.json()) as { credentials: { password: string } }).credentials.password);
        }),
      );
      if (i % 208 === 0) progress(`  provisioned ${passwords.size}/${G}`);
    }
    const rssIdle = rssMb(pid);
    const bareGws = await connectAll(`mqtt://127.0.0.1:${port}`, ids, undefined);
    clients.push(...bareGws);
    const fleetGws = await connectAll(`mqtt://127.0.0.1:${ports.mqtt}`, ids, passwords);
    clients.push(...fleetGws);
    const rssConnected = rssMb(pid);

    const bareRates: number[] = [];
    const fleetRates: number[] = [];
    let counted = 0;
    // EDGEWISE_BENCH_FLEET_ONLY=1 skips the baseline rounds (to profile the fleet alone).
    const fleetOnly = process.env['EDGEWISE_BENCH_FLEET_ONLY'] === '1';
    for (let r = 0; r < rounds; r += 1) {
      const tb0 = performance.now();
      if (!fleetOnly) {
        await publishAll(bareGws, M, window, r);
        counted += total;
        await waitFor(async () => (await count()) >= counted, 'the bare subscriber to count every message', 120_000, 5);
      }
      bareRates.push(total / ((performance.now() - tb0) / 1000));
      const cpu0 = cpuS(pid);
      const main0 = cpuS(pid, pid);
      // Every PUBACK comes after its commit: when the last one is in, the database has it all.
      const fleetS = await publishAll(fleetGws, M, window, r);
      fleetRates.push(total / fleetS);
      progress(`  round ${r + 1}: bare aedes ${Math.round(bareRates[r] as number)} msgs/s, fleet ${Math.round(fleetRates[r] as number)} msgs/s (fleet CPU ${(cpuS(pid) - cpu0).toFixed(2)} s, main thread ${(cpuS(pid, pid) - main0).toFixed(2)} s, RSS ${rssMb(pid).toFixed(0)} MB)`);
    }
    const rssAfter = rssMb(pid);
    const heapMb = async (): Promise<string> => {
      const text = await fetch(`${started.endpoints.localApiUrl}/metrics`).then((res) => res.text());
      const v = (name: string): number => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? 0) / 1e6;
      return `main thread heap ${v('edgewise_fleet_nodejs_heap_size_total_bytes').toFixed(0)} MB, external ${v('edgewise_fleet_nodejs_external_memory_bytes').toFixed(0)} MB`;
    };
    progress(`  after the runs: RSS ${rssAfter.toFixed(0)} MB, ${await heapMb()}`);
    const metrics = await fetch(`${started.endpoints.localApiUrl}/metrics`).then((res) => res.text());
    const stored = Number(/edgewise_fleet_events_stored_total\{kind="alert"\} (\d+)/.exec(metrics)?.[1] ?? 0);
    const commits = Number(/edgewise_fleet_db_seconds_count\{op="ingest-commit"\} (\d+)/.exec(metrics)?.[1] ?? 0);
    const commitS = Number(/edgewise_fleet_db_seconds_sum\{op="ingest-commit"\} ([\d.e-]+)/.exec(metrics)?.[1] ?? 0);
    const expected = rounds * G * Math.floor(M / 2);
    if (stored !== expected) throw new Error(`expected ${expected} alerts stored, the fleet counts ${stored}`);
    const value = median(fleetRates);
    const baseline = median(bareRates);
    progress(
      `  fleet: median ${Math.round(value)} msgs/s; ${stored} alerts stored in ${commits} commits of ${commits === 0 ? 0 : ((commitS / commits) * 1000).toFixed(0)} ms on average; RSS ${rssIdle.toFixed(0)} MB before connects, ${rssConnected.toFixed(0)} MB with ${G} gateways connected, ${rssAfter.toFixed(0)} MB after the runs`,
    );
    finish('fleet-ingest', value, baseline, 'msgs/s', { gateways: G, messages: total, db, rss_connected_mb: Math.round(rssConnected), rss_after_mb: Math.round(rssAfter) });
  } finally {
    await endAll(clients);
    await fleet?.kill('SIGTERM');
    bare?.send({ ask: 'stop' });
    bare?.kill('SIGKILL');
    await pg?.stop();
    await tmp.remove();
  }
}
