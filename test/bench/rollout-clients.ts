import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { parentPort, workerData } from 'node:worker_threads';
import mqtt, { type MqttClient } from 'mqtt';
import { decodeReleaseNotice, encodeState, encodeUpdateReport, gatewayTopics } from '../../fleet/protocol/index.js';
import { TrustClient, initTrust } from '../../runtime/updater/trust.js';

/**
 * One thread of the rollout bench's clients (see rollout.ts): either floor downloads or
 * simulated gateways. The bench splits both the same way over the same number of threads, so
 * the floor and the rollout get the same share of the machine.
 */
export type ClientsJob =
  | { readonly kind: 'floor'; readonly url: string; readonly count: number; readonly bytes: number; readonly concurrency: number }
  | {
      readonly kind: 'gateways';
      readonly gateways: readonly { readonly id: string; readonly password: string }[];
      readonly brokerUrl: string;
      readonly repoUrl: string;
      /** The repository's first root, which every gateway pins. */
      readonly rootFile: string;
      readonly dir: string;
      readonly concurrency: number;
    };

/** Bench → thread. */
export type ClientsCommand = { readonly cmd: 'go' } | { readonly cmd: 'stop' };

/** Thread → bench. */
export type ClientsMessage =
  | { readonly kind: 'ready' }
  | { readonly kind: 'connected'; readonly n: number }
  | { readonly kind: 'floor-done' }
  | { readonly kind: 'updated'; readonly refreshMs: number; readonly downloadMs: number; readonly reportMs: number }
  | { readonly kind: 'failed'; readonly gw: string; readonly message: string }
  | { readonly kind: 'stopped' };

/** Runs `fn` with at most `n` running at once. */
export function limiter(n: number): <T>(fn: () => Promise<T>) => Promise<T> {
  let running = 0;
  const waiting: (() => void)[] = [];
  return async <T>(fn: () => Promise<T>): Promise<T> => {
    if (running >= n) await new Promise<void>((resolve) => waiting.push(resolve));
    running += 1;
    try {
      return await fn();
    } finally {
      running -= 1;
      waiting.shift()?.();
    }
  };
}

function post(m: ClientsMessage): void {
  parentPort?.postMessage(m);
}

function nextCommand(): Promise<ClientsCommand> {
  return new Promise((resolve) => parentPort?.once('message', resolve));
}

/** Every client downloads the file, reading and dropping the bytes. */
async function floor(job: Extract<ClientsJob, { kind: 'floor' }>): Promise<void> {
  post({ kind: 'ready' });
  await nextCommand();
  const slot = limiter(job.concurrency);
  await Promise.all(
    Array.from({ length: job.count }, () => slot(async () => {
      const res = await fetch(job.url);
      if (!res.ok || res.body === null) throw new Error(`floor download: HTTP ${res.status}`);
      let n = 0;
      for await (const chunk of res.body) n += (chunk as Uint8Array).byteLength;
      if (n !== job.bytes) throw new Error(`floor download: ${n} bytes, expected ${job.bytes}`);
    })),
  );
  post({ kind: 'floor-done' });
}

/**
 * Simulated gateways: each an MQTT client with its own login and the gateway's own TUF client
 * (tuf-js, the resuming fetcher, metadata written durably). On a release notice: refresh,
 * download and verify the target, report download, install, health and activate.
 */
async function gateways(job: Extract<ClientsJob, { kind: 'gateways' }>): Promise<void> {
  const clients: MqttClient[] = [];
  const slot = limiter(job.concurrency);
  for (let i = 0; i < job.gateways.length; i += 25) {
    await Promise.all(
      job.gateways.slice(i, i + 25).map(async ({ id: gw, password }) => {
        const dir = join(job.dir, gw);
        await initTrust(join(dir, 'metadata'), job.rootFile);
        const trust = new TrustClient({ metadataDir: join(dir, 'metadata'), metadataUrl: `${job.repoUrl}/metadata`, targetBaseUrl: `${job.repoUrl}/targets`, targetDir: join(dir, 'targets') });
        const c = await mqtt.connectAsync(job.brokerUrl, { clientId: `edgewise-${gw}`, username: gw, password, protocolVersion: 4, reconnectPeriod: 1000, keepalive: 120 });
        clients.push(c);
        const report = (t: string, step: 'download' | 'install' | 'health' | 'activate', outcome: 'ok' | 'failed', reason: string | null): Promise<unknown> =>
          c.publishAsync(gatewayTopics.updateReport(gw), Buffer.from(encodeUpdateReport({ gw, model: 'press', target: t, release: 2, version: '1.2', step, outcome, reason, ts: Date.now() })), { qos: 1 });
        c.on('message', (_topic, payload) => {
          const t = decodeReleaseNotice(payload).target;
          void slot(async () => {
            const t0 = performance.now();
            await trust.refresh();
            const info = await trust.target(t);
            const t1 = performance.now();
            const { path } = await trust.download(info);
            await rm(path, { force: true });
            return { refreshMs: t1 - t0, downloadMs: performance.now() - t1 };
          }).then(async (took) => {
            // As the gateway's updater does: each step's report is queued as the step ends and
            // sent in order (QoS 1) while the gateway goes on; nobody waits for the fleet's ack.
            const t2 = performance.now();
            await Promise.all((['download', 'install', 'health', 'activate'] as const).map((step) => report(t, step, 'ok', null)));
            post({ kind: 'updated', ...took, reportMs: performance.now() - t2 });
          }).catch((err: unknown) => {
            // As the updater does: the failure is reported (and counts against the gates).
            post({ kind: 'failed', gw, message: (err as Error).message });
            void report(t, 'download', 'failed', `E_TRUST_FETCH: ${(err as Error).message}`);
          });
        });
        await c.subscribeAsync(gatewayTopics.releaseNotice(gw), { qos: 1 });
        await c.publishAsync(gatewayTopics.state(gw), Buffer.from(encodeState({ gw, state: 'online', ts: Date.now(), clean: true, runtimeVersion: '0.1.0' })), { qos: 1, retain: true });
      }),
    );
    post({ kind: 'connected', n: clients.length });
  }
  post({ kind: 'ready' });
  while ((await nextCommand()).cmd !== 'stop');
  await Promise.all(clients.map((c) => c.endAsync().catch(() => undefined)));
  post({ kind: 'stopped' });
}

const job = workerData as ClientsJob | undefined;
if (job !== undefined && parentPort !== null) {
  // A failure reaches the bench as the worker's 'error' event.
  await (job.kind === 'floor' ? floor(job) : gateways(job));
}
