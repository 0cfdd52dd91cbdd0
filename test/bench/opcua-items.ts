import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { ClientSubscription } from 'node-opcua-client';
import { parse, stringify } from 'yaml';
import { EmbeddedBroker } from '../../fleet/broker/embedded-broker.js';
import { BIN, GatewayProcess, type LogLine } from '../support/gateway-process.js';
import { freePort } from '../support/ports.js';
import { makeTempDir } from '../support/temp-dir.js';
import { waitFor } from '../support/wait-for.js';
import { underGatewayFlags } from './gateway-flags.js';
import { median, printResult, progress } from './report.js';

/**
 * `npm run bench -- opcua [--items N] [--sampling-ms MS] [--seconds S] [--items-per-subscription K] [--plain-node]` (issue 20):
 * CPU and RSS of a gateway holding N OPC UA monitored items (default 10,000) sampled and published every MS (1,000),
 * against a node-opcua server child that changes every variable each MS.
 *
 * 1. The gateway: `bin/edgewise gateway --config FILE` (the gateway's V8 flags and malloc env, as users start it) with
 *    the example config's store, uplink and health sections, its devices replaced by one `opcua` source of N items in
 *    subscriptions of K (1,000: node-opcua's server puts at most 1,000 notifications in a publish response) and no
 *    pipeline (the implicit one: records go straight into the outbox), its uplink to an embedded aedes broker in this
 *    process. Item creation: from spawn to the source's `opcua.connected` log line (sent once every item is created).
 *    Then S seconds (30) of steady state: CPU of the gateway and of the server from /proc, the gateway's VmRSS once a
 *    second (median), the server's produced values (its tick lines), and the gateway's /health counters (source
 *    samples and records, outbox appends, uplink acks) at the window's ends.
 * 2. The baseline, after the gateway stopped and the broker closed: a bare node-opcua client (holdMonitoredItems) in
 *    this process, the same items and subscriptions against the same server, over the same S seconds. This process
 *    runs under the gateway's V8 flags too (unless --plain-node), so the ratios are what the gateway adds to node-opcua
 *    (records, outbox, uplink, health), not the flags. `cpuRatio` is gateway CPU / bare client CPU per second;
 *    `cpuPerChangeRatio` the same per change received, which holds when the loaded server produced fewer changes
 *    in one window than in the other (on a busy 2-core box it falls behind its tick: `serverMaxTickMs`).
 * Progress on stderr; the last line is one JSON object. Both processes share the machine's cores with the server,
 * whose tick (N setValueFromSource calls) competes with them: run it on a quiet machine.
 */
export interface HeldItems {
  /** Data changes received so far. */
  readonly changes: () => number;
  readonly close: () => Promise<void>;
}

/** Connects to `url` (security None), subscribes to `nodeIds` at `samplingMs` (publishing at the same interval), counts the data changes; resolves once every item was created. */
export async function holdMonitoredItems(url: string, nodeIds: readonly string[], samplingMs: number, itemsPerSubscription: number): Promise<HeldItems> {
  const ua = await import('node-opcua-client');
  const { OPCUACertificateManager } = await import('node-opcua-certificate-manager');
  const { mkdtempSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const pki = mkdtempSync(join(tmpdir(), 'opcua-bench-client-'));
  const client = ua.OPCUAClient.create({
    applicationName: 'edgewise-bench',
    clientCertificateManager: new OPCUACertificateManager({ rootFolder: pki, automaticallyAcceptUnknownCertificate: false }),
    endpointMustExist: false,
    connectionStrategy: { maxRetry: 0 },
  });
  await client.connect(url);
  const session = await client.createSession();
  // node-opcua's server sends at most 1,000 notifications per publish response (Subscription.maxNotificationPerPublishHighLimit):
  // one subscription of 10,000 items at a 1 s publishing interval falls behind, so items are spread over subscriptions of itemsPerSubscription.
  const subscriptions: ClientSubscription[] = [];
  let changes = 0;
  let failed = 0;
  for (let i = 0; i < nodeIds.length; i += itemsPerSubscription) {
    const subscription = await session.createSubscription2({ requestedPublishingInterval: samplingMs, requestedLifetimeCount: 120, requestedMaxKeepAliveCount: 10, maxNotificationsPerPublish: 0, publishingEnabled: true, priority: 1 });
    subscriptions.push(subscription);
    const group = await subscription.monitorItems(
      nodeIds.slice(i, i + itemsPerSubscription).map((nodeId) => ({ nodeId, attributeId: ua.AttributeIds.Value })),
      { samplingInterval: samplingMs, queueSize: 2, discardOldest: true },
      ua.TimestampsToReturn.Both,
    );
    group.on('changed', () => {
      changes += 1;
    });
    failed += group.monitoredItems.filter((m) => m.statusCode !== undefined && !m.statusCode.isGood()).length;
  }
  if (failed > 0) throw new Error(`${failed} of ${nodeIds.length} monitored items failed to create`);
  return {
    changes: () => changes,
    close: async () => {
      for (const subscription of subscriptions) await subscription.terminate().catch(() => undefined);
      await session.close().catch(() => undefined);
      await client.disconnect();
      rmSync(pki, { recursive: true, force: true });
    },
  };
}

function flag(args: readonly string[], name: string, fallback: number): number {
  const i = args.indexOf(name);
  if (i < 0) return fallback;
  const v = Number(args[i + 1]);
  if (!Number.isFinite(v) || v <= 0) throw new Error(`${name}: expected a positive number, got "${args[i + 1] ?? ''}"`);
  return v;
}

/** utime + stime of a process in ms (Linux /proc: clock ticks of 10 ms). */
function processCpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) * 10;
}

function processRssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m === null ? Number.NaN : Number(m[1]) / 1024;
}

const cpuMs = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};
const mb = (bytes: number): number => Math.round((bytes / 2 ** 20) * 10) / 10;

interface Server {
  readonly url: string;
  readonly startMs: number;
  readonly pid: number;
  /** Values the server set so far, and when the bench heard of it (performance.now()). */
  readonly produced: () => { values: number; atMs: number };
  /** The longest tick loop since the last call, ms. */
  readonly takeMaxTickMs: () => number;
  readonly stop: () => Promise<void>;
}

async function startServer(items: number, samplingMs: number): Promise<Server> {
  const serverScript = fileURLToPath(new URL('./opcua-items-server.js', import.meta.url));
  const child = spawn(process.execPath, [serverScript, String(items), String(samplingMs)], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NODEOPCUA_LOG_LEVEL: '3' } });
  const serverErr: string[] = [];
  createInterface({ input: child.stderr }).on('line', (l) => serverErr.length < 200 && serverErr.push(l));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let produced = { values: 0, atMs: performance.now() };
  let maxTickMs = 0;
  const stop = async (): Promise<void> => {
    if (child.exitCode === null) child.kill('SIGTERM');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
    if (child.exitCode === null) child.kill('SIGKILL');
  };
  try {
    const ready = await new Promise<{ url: string; startMs: number }>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the server did not say ready within 120 s; stderr:\n${serverErr.join('\n')}`)), 120_000);
      createInterface({ input: child.stdout }).on('line', (line) => {
        let msg: { event?: string; url?: string; startMs?: number; produced?: number; tickMs?: number };
        try {
          msg = JSON.parse(line) as typeof msg;
        } catch {
          return; // not a JSON line: node-opcua's own output
        }
        if (msg.event === 'ready' && msg.url !== undefined) {
          clearTimeout(timer);
          resolve({ url: msg.url, startMs: msg.startMs ?? Number.NaN });
        } else if (msg.event === 'tick' && msg.produced !== undefined) {
          produced = { values: msg.produced, atMs: performance.now() };
          maxTickMs = Math.max(maxTickMs, msg.tickMs ?? 0);
        }
      });
      void exited.then((code) => reject(new Error(`the server exited (${code}) before it was ready; stderr:\n${serverErr.join('\n')}`)));
    });
    return {
      ...ready,
      pid: child.pid as number,
      produced: () => produced,
      takeMaxTickMs: () => {
        const m = maxTickMs;
        maxTickMs = 0;
        return m;
      },
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** The example config with one opcua source of `items` items and no pipeline (the implicit one: into the outbox); returns the health endpoint. */
async function gatewayConfig(path: string, dataDir: string, brokerUrl: string, url: string, items: number, samplingMs: number, perSubscription: number): Promise<string> {
  const root = join(BIN, '..', '..');
  const config = parse(readFileSync(join(root, 'runtime', 'gateway.example.yaml'), 'utf8')) as Record<string, unknown> & {
    gateway: { id: string; dataDir: string };
    uplink: { url: string };
    health: { listen: string };
  };
  config.gateway.id = 'opcua-bench';
  config.gateway.dataDir = dataDir;
  config.uplink.url = brokerUrl;
  config.health.listen = `127.0.0.1:${await freePort()}`;
  const subscriptions = [];
  for (let i = 0; i < items; i += perSubscription) {
    subscriptions.push({
      name: `s${subscriptions.length}`,
      publishingIntervalMs: samplingMs,
      items: Array.from({ length: Math.min(perSubscription, items - i) }, (_, k) => ({ nodeId: `ns=1;s=v${i + k}`, name: `v${i + k}`, samplingIntervalMs: samplingMs, queueSize: 2 })),
    });
  }
  config['devices'] = [{ id: 'line', type: 'opcua', endpoint: url, security: { mode: 'None' }, subscriptions }];
  delete config['pipelines'];
  await writeFile(path, stringify(config));
  return config.health.listen;
}

interface Health {
  store: { appended: Record<string, number> };
  uplink: { ackedRecords: number; connected: boolean };
  sources: { emitted: number; stored: number; dropped: number; details?: Record<string, unknown> }[];
  reasons: string[];
}

async function health(listen: string): Promise<Health> {
  const res = await fetch(`http://${listen}/health`);
  return (await res.json()) as Health;
}

const num = (h: Health, key: string): number => Number(h.sources[0]?.details?.[key] ?? Number.NaN);
const appended = (h: Health): number => Object.values(h.store.appended).reduce((a, b) => a + b, 0);
const pct = (cpu: number, wall: number): number => Math.round((cpu / 10 / wall) * 10) / 10;
const r1 = (x: number): number => Math.round(x * 10) / 10;

interface Window {
  wall: number;
  cpuMs: number;
  serverCpuMs: number;
  rss: number[];
  produced: number;
  producedSeconds: number;
  maxTickMs: number;
}

/** `seconds` of steady state: CPU of `cpu()` and of the server, RSS of `rss()` once a second; `edges` runs right before and right after the window (counters to diff). */
async function steady(seconds: number, server: Server, cpu: () => number, rss: () => number, label: string, onProgress: (s: number) => Promise<string>, edges: () => Promise<void>): Promise<Window> {
  await edges();
  const c0 = cpu();
  const s0 = processCpuMs(server.pid);
  const p0 = server.produced();
  server.takeMaxTickMs();
  const t0 = performance.now();
  const samples: number[] = [];
  for (let s = 1; s <= seconds; s += 1) {
    await new Promise((r) => setTimeout(r, 1000));
    samples.push(rss());
    if (s % 5 === 0) progress(`  ${label} ${s} s: RSS ${mb(samples.at(-1) as number)} MB; ${await onProgress(s)}`);
  }
  const wall = (performance.now() - t0) / 1000;
  const p1 = server.produced();
  const c1 = cpu();
  const s1 = processCpuMs(server.pid);
  await edges();
  return { wall, cpuMs: c1 - c0, serverCpuMs: s1 - s0, rss: samples, produced: p1.values - p0.values, producedSeconds: (p1.atMs - p0.atMs) / 1000, maxTickMs: server.takeMaxTickMs() };
}

export async function benchOpcuaItems(args: readonly string[]): Promise<void> {
  underGatewayFlags(args);
  const items = flag(args, '--items', 10_000);
  const samplingMs = flag(args, '--sampling-ms', 1000);
  const seconds = flag(args, '--seconds', 30);
  const perSubscription = flag(args, '--items-per-subscription', 1000);
  const rssBeforeLoad = process.memoryUsage().rss;

  progress(`starting a node-opcua server child with ${items} variables changing every ${samplingMs} ms`);
  const server = await startServer(items, samplingMs);
  const tmp = await makeTempDir('edgewise-opcua-bench-');
  let broker: EmbeddedBroker | undefined;
  let gw: GatewayProcess | undefined;
  try {
    progress(`server ready at ${server.url} after ${server.startMs} ms`);

    // 1. The gateway.
    broker = await EmbeddedBroker.create();
    const configPath = join(tmp.path, 'opcua-bench.yaml');
    const listen = await gatewayConfig(configPath, join(tmp.path, 'data'), broker.url, server.url, items, samplingMs, perSubscription);
    let startedMs = Number.NaN;
    let connectedMs = Number.NaN;
    let itemsConnected = Number.NaN;
    let busyMs = Number.NaN;
    const problems: string[] = [];
    const tSpawn = performance.now();
    const onLine = (l: LogLine): void => {
      if (l.event === 'gateway.started') startedMs = performance.now() - tSpawn;
      if (l.event === 'gateway.busy_mode') busyMs = performance.now() - tSpawn;
      if (l.event === 'opcua.connected' && Number.isNaN(connectedMs)) {
        connectedMs = performance.now() - tSpawn;
        itemsConnected = Number(l['items']);
      }
      if (typeof l.event === 'string' && /opcua\.(items_failed|samples_dropped|notification_lost|connection_lost|connect_failed)/.test(l.event) && problems.length < 20) problems.push(JSON.stringify(l).slice(0, 300));
    };
    progress(`gateway: bin/edgewise gateway --config ${configPath} (one opcua source, ${items} items in subscriptions of ${perSubscription}, into the outbox and to ${broker.url})`);
    gw = GatewayProcess.start(configPath, onLine, true);
    const gwPid = gw.child.pid as number;
    const running = gw;
    await waitFor(() => !Number.isNaN(connectedMs) || running.child.exitCode !== null, 'the opcua source to create its items (opcua.connected)', 300_000, 50);
    if (Number.isNaN(connectedMs)) throw new Error(`the gateway exited before its opcua source connected: ${running.stderr}`);
    if (itemsConnected !== items) throw new Error(`the source created ${itemsConnected} of ${items} items: ${problems.join('\n')}`);
    progress(`  gateway.started after ${Math.round(startedMs)} ms; ${itemsConnected} items created ${Math.round(connectedMs)} ms after spawn (${Math.round(connectedMs - startedMs)} ms after gateway.started)`);
    await new Promise((r) => setTimeout(r, 2 * samplingMs));
    await waitFor(async () => (await health(listen)).uplink.connected, 'the gateway to connect to the broker', 30_000, 200);
    // bin/edgewise starts the gateway interpreted and small; a busy one sets V8 for speed within its
    // first 10 s windows (runtime/busy-mode.ts): the steady state starts after.
    await waitFor(() => !Number.isNaN(busyMs), 'the busy gateway to set V8 for speed (gateway.busy_mode)', 60_000, 100);
    progress(`  busy mode ${Math.round(busyMs - startedMs)} ms after gateway.started`);
    const snaps: Health[] = [];
    const g = await steady(seconds, server, () => processCpuMs(gwPid), () => processRssMb(gwPid) * 2 ** 20, 'gateway', async () => {
      const h = await health(listen);
      const h0 = snaps[0] as Health;
      return `source samples ${num(h, 'samples') - num(h0, 'samples')}, records stored ${appended(h) - appended(h0)}, acked ${h.uplink.ackedRecords - h0.uplink.ackedRecords}, pending ${num(h, 'pendingSamples')}`;
    }, async () => {
      snaps.push(await health(listen));
    });
    const [h0, h1] = snaps as [Health, Health];
    const exit = await gw.kill('SIGTERM');
    gw = undefined;
    if (exit.code !== 0) throw new Error(`the gateway exited with ${exit.code ?? exit.signal} on SIGTERM: ${running.stderr}`);
    await broker.close();
    broker = undefined;
    const d = (key: string): number => num(h1, key) - num(h0, key);
    const gwRecords = { emitted: (h1.sources[0]?.emitted ?? 0) - (h0.sources[0]?.emitted ?? 0), stored: appended(h1) - appended(h0), acked: h1.uplink.ackedRecords - h0.uplink.ackedRecords };
    const lost = ['droppedSamples', 'overflowSamples', 'lostNotifications.republishUnavailable', 'lostNotifications.subscriptionRecreated', 'duplicateNotifications'].map((k) => `${k} ${d(k)}`).join(', ');
    progress(`  gateway: ${pct(g.cpuMs, g.wall)} % of a core, RSS median ${mb(median(g.rss))} MB; source ${Math.round(d('samples') / g.wall)} samples/s in ${Math.round(d('notifications') / g.wall)} notifications/s; records/s emitted ${r1(gwRecords.emitted / g.wall)}, stored ${r1(gwRecords.stored / g.wall)}, acked ${r1(gwRecords.acked / g.wall)}; ${lost}; server ${Math.round(g.produced / g.producedSeconds)} values/s, ${pct(g.serverCpuMs, g.wall)} % of a core, longest tick ${g.maxTickMs} ms`);
    if (h1.reasons.length > 0) progress(`  gateway health reasons: ${h1.reasons.join('; ')}`);
    for (const p of problems) progress(`  event: ${p}`);

    // 2. The baseline: a bare node-opcua client in this process.
    progress(`baseline: a bare node-opcua client in this process, the same ${items} items`);
    const nodeIds = Array.from({ length: items }, (_, i) => `ns=1;s=v${i}`);
    const tCreate = performance.now();
    const held = await holdMonitoredItems(server.url, nodeIds, samplingMs, perSubscription);
    const createMs = performance.now() - tCreate;
    progress(`  ${items} monitored items created in ${Math.round(createMs)} ms`);
    await new Promise((r) => setTimeout(r, 2 * samplingMs));
    const counts: number[] = [];
    const b = await steady(seconds, server, cpuMs, () => process.memoryUsage().rss, 'bare client', async () => `${held.changes() - (counts[0] as number)} changes`, async () => {
      counts.push(held.changes());
    });
    const changes = (counts[1] as number) - (counts[0] as number);
    await held.close();
    progress(`  bare client: ${pct(b.cpuMs, b.wall)} % of a core, RSS median ${mb(median(b.rss))} MB, ${Math.round(changes / b.wall)} changes/s; server ${Math.round(b.produced / b.producedSeconds)} values/s, ${pct(b.serverCpuMs, b.wall)} % of a core, longest tick ${b.maxTickMs} ms`);

    printResult({
      bench: 'opcua',
      items,
      samplingMs,
      subscriptions: Math.ceil(items / perSubscription),
      steadySeconds: r1(g.wall),
      // The gateway (bin/edgewise, one opcua source, records into the outbox and to the broker).
      gatewayCpuPercentOfCore: pct(g.cpuMs, g.wall),
      gatewayRssMb: mb(median(g.rss)),
      gatewayRssMaxMb: mb(g.rss.reduce((a, x) => Math.max(a, x), 0)),
      gatewayCreateMs: Math.round(connectedMs - startedMs),
      gatewaySpawnToItemsMs: Math.round(connectedMs),
      // Samples (changes) the source put in records / s, against what the server set / s in the same window.
      gatewayChangesPerSecond: Math.round(d('samples') / g.wall),
      serverProducedPerSecond: Math.round(g.produced / g.producedSeconds),
      gatewayRecordsEmittedPerSecond: r1(gwRecords.emitted / g.wall),
      gatewayRecordsStoredPerSecond: r1(gwRecords.stored / g.wall),
      gatewayRecordsAckedPerSecond: r1(gwRecords.acked / g.wall),
      gatewayDroppedSamples: d('droppedSamples'),
      gatewayOverflowSamples: d('overflowSamples'),
      serverCpuPercentOfCore: pct(g.serverCpuMs, g.wall),
      serverMaxTickMs: g.maxTickMs,
      // The baseline: a bare node-opcua client holding the same items (this process, the gateway's V8 flags).
      bareClientCpuPercentOfCore: pct(b.cpuMs, b.wall),
      bareClientRssMb: mb(median(b.rss)),
      bareClientRssBeforeLoadMb: mb(rssBeforeLoad),
      bareClientCreateMs: Math.round(createMs),
      bareClientChangesPerSecond: Math.round(changes / b.wall),
      bareServerProducedPerSecond: Math.round(b.produced / b.producedSeconds),
      bareServerCpuPercentOfCore: pct(b.serverCpuMs, b.wall),
      // gateway CPU / bare client CPU, each over its own window of `seconds`: skewed when the loaded server produced less in one window than in the other.
      cpuRatio: Math.round((g.cpuMs / g.wall / (b.cpuMs / b.wall)) * 100) / 100,
      // CPU ms per 1,000 changes received, and their ratio: the comparison that does not depend on how much the server managed to produce.
      gatewayCpuMsPer1000Changes: r1(g.cpuMs / (d('samples') / 1000)),
      bareClientCpuMsPer1000Changes: r1(b.cpuMs / (changes / 1000)),
      cpuPerChangeRatio: Math.round((g.cpuMs / d('samples') / (b.cpuMs / changes)) * 100) / 100,
      serverStartMs: server.startMs,
    });
  } finally {
    await gw?.kill('SIGKILL');
    await broker?.close();
    await server.stop();
    await tmp.remove();
  }
}

// Runs alone too (`node dist/test/bench/opcua-items.js`).
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await benchOpcuaItems(process.argv.slice(2));
  process.exit(0);
}
