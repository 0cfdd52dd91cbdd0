import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { ClientSubscription } from 'node-opcua-client';
import { median, printResult, progress } from './report.js';

/**
 * `npm run bench -- opcua [--items N] [--sampling-ms MS] [--seconds S] [--items-per-subscription K]` (issue 20): CPU and RSS of
 * a client process holding N monitored items (default 10,000) sampled every MS (1,000) against
 * a node-opcua server child that changes every variable each MS, measured over S seconds (30)
 * of steady state after the items were created. The server's CPU is reported apart. Progress on
 * stderr; the last line is one JSON object.
 *
 * The client is `holdMonitoredItems` alone, so that it can be switched to the opcua source
 * (devices/opcua/client.ts) once that exists: the bench measures whatever that function runs in
 * this process. Both processes share the machine's cores: the server's tick (N setValueFromSource
 * calls a second) competes with the client, so run it on a quiet machine.
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

export async function benchOpcuaItems(args: readonly string[]): Promise<void> {
  const items = flag(args, '--items', 10_000);
  const samplingMs = flag(args, '--sampling-ms', 1000);
  const seconds = flag(args, '--seconds', 30);
  const perSubscription = flag(args, '--items-per-subscription', 1000);
  const rssBeforeLoad = process.memoryUsage().rss;

  const serverScript = fileURLToPath(new URL('./opcua-items-server.js', import.meta.url));
  progress(`starting a node-opcua server child with ${items} variables changing every ${samplingMs} ms`);
  const server = spawn(process.execPath, [serverScript, String(items), String(samplingMs)], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NODEOPCUA_LOG_LEVEL: '3' } });
  const serverErr: string[] = [];
  createInterface({ input: server.stderr }).on('line', (l) => serverErr.length < 200 && serverErr.push(l));
  const exited = new Promise<number | null>((resolve) => server.once('exit', (code) => resolve(code)));
  try {
    const ready = await new Promise<{ url: string; startMs: number }>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the server did not say ready within 120 s; stderr:\n${serverErr.join('\n')}`)), 120_000);
      createInterface({ input: server.stdout }).on('line', (line) => {
        try {
          const msg = JSON.parse(line) as { event?: string; url?: string; startMs?: number };
          if (msg.event === 'ready' && msg.url !== undefined) {
            clearTimeout(timer);
            resolve({ url: msg.url, startMs: msg.startMs ?? Number.NaN });
          }
        } catch {
          // not a JSON line: node-opcua's own output
        }
      });
      void exited.then((code) => reject(new Error(`the server exited (${code}) before it was ready; stderr:\n${serverErr.join('\n')}`)));
    });
    progress(`server ready at ${ready.url} after ${ready.startMs} ms`);

    const nodeIds = Array.from({ length: items }, (_, i) => `ns=1;s=v${i}`);
    const tCreate = performance.now();
    const held = await holdMonitoredItems(ready.url, nodeIds, samplingMs, perSubscription);
    const createMs = performance.now() - tCreate;
    progress(`${items} monitored items created in ${Math.round(createMs)} ms; RSS ${mb(process.memoryUsage().rss)} MB; ${seconds} s of steady state`);

    // Let the first full round of notifications arrive before the window opens.
    await new Promise((r) => setTimeout(r, 2 * samplingMs));
    const c0 = cpuMs();
    const s0 = processCpuMs(server.pid as number);
    const n0 = held.changes();
    const t0 = performance.now();
    const rss: number[] = [];
    for (let s = 1; s <= seconds; s += 1) {
      await new Promise((r) => setTimeout(r, 1000));
      rss.push(process.memoryUsage().rss);
      if (s % 5 === 0) progress(`${s} s: ${held.changes() - n0} changes, client RSS ${mb(rss.at(-1) as number)} MB, server RSS ${Math.round(processRssMb(server.pid as number))} MB`);
    }
    const wall = (performance.now() - t0) / 1000;
    const clientCpu = cpuMs() - c0;
    const serverCpu = processCpuMs(server.pid as number) - s0;
    const changes = held.changes() - n0;
    const serverRssMb = processRssMb(server.pid as number);
    await held.close();
    printResult({
      bench: 'opcua',
      items,
      samplingMs,
      subscriptions: Math.ceil(items / perSubscription),
      steadySeconds: Math.round(wall * 10) / 10,
      changesPerSecond: Math.round(changes / wall),
      expectedChangesPerSecond: Math.round((items * 1000) / samplingMs),
      clientCpuPercentOfCore: Math.round((clientCpu / 10 / wall) * 10) / 10,
      clientCpuMs: Math.round(clientCpu),
      // RSS sampled once a second: the median is the steady level, the maximum includes garbage not yet collected.
      clientRssMb: mb(median(rss)),
      clientRssMaxMb: mb(rss.reduce((a, b) => Math.max(a, b), 0)),
      clientRssBeforeLoadMb: mb(rssBeforeLoad),
      serverCpuPercentOfCore: Math.round((serverCpu / 10 / wall) * 10) / 10,
      serverRssMb: Math.round(serverRssMb * 10) / 10,
      createMs: Math.round(createMs),
      serverStartMs: ready.startMs,
    });
  } finally {
    if (server.exitCode === null) server.kill('SIGTERM');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
    if (server.exitCode === null) server.kill('SIGKILL');
  }
}

// Runs alone too (`node dist/test/bench/opcua-items.js`) until test/bench/run.ts lists it.
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await benchOpcuaItems(process.argv.slice(2));
  process.exit(0);
}
