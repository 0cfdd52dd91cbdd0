import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { decodeReleaseNotice, encodeState, encodeUpdateReport, gatewayTopics } from '../../fleet/protocol/index.js';
import { TrustClient, initTrust } from '../../runtime/updater/trust.js';
import { FleetProcess } from '../support/fleet-process.js';
import { freePort } from '../support/ports.js';
import { makeTempDir } from '../support/temp-dir.js';
import { TufRig } from '../support/tuf-rig.js';
import { waitFor } from '../support/wait-for.js';
import { median, progress } from './report.js';

/**
 * `npm run bench -- rollout [--gateways 1000] [--mib 5]`: the time to take a release from 0 to
 * 100% active on G simulated gateways (waves of 1%, 10%, 100%; health gates on; shadow off),
 * through the real fleet (a process: embedded broker with logins and ACL, PGlite, the rollout
 * driver) and a real TUF repository served over HTTP. A simulated gateway is an MQTT client
 * with its own login and the gateway's own TUF client (tuf-js, the resuming fetcher): on a
 * notice it refreshes the metadata, downloads and verifies the target, and reports download,
 * install, health and activate (no ONNX health check: that is the updater's, measured in its
 * own tests). The floor, same run: G clients that only download the same file over HTTP from
 * the same server. Both run at most 64 at a time: here every gateway and the server share two
 * cores (1,000 at once starved the server's event loop and downloads timed out).
 */
/** At most this many simulated updates (and floor downloads) at once: the gateways share this machine's two cores, the HTTP server among them. */
const CONCURRENCY = 64;

/** Runs `fn` with at most `n` running at once. */
function limiter(n: number): <T>(fn: () => Promise<T>) => Promise<T> {
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

function arg(args: readonly string[], name: string, fallback: string): string {
  const i = args.indexOf(name);
  return i >= 0 ? (args[i + 1] ?? fallback) : fallback;
}

interface Phases {
  refreshMs: number[];
  downloadMs: number[];
  reportMs: number[];
  noticeAtMs: number[];
}

export async function benchRollout(args: readonly string[]): Promise<void> {
  const G = Number(arg(args, '--gateways', '1000'));
  const bytes = Number(arg(args, '--mib', '5')) * 1024 * 1024;
  const tmp = await makeTempDir('edgewise-bench-rollout-');
  const tuf = new TufRig(join(tmp.path, 'tuf'));
  let fleet: FleetProcess | undefined;
  const clients: MqttClient[] = [];
  try {
    progress(`rollout: a ${bytes / 1048576} MiB release to ${G} simulated gateways (waves 1%, 10%, 100%)`);
    await tuf.start();
    const model = randomBytes(bytes);
    const d = join(tmp.path, 'in');
    await mkdir(d, { recursive: true });
    await writeFile(`${d}/m.onnx`, model);
    await writeFile(`${d}/gi.bin`, new Uint8Array(16));
    await writeFile(`${d}/go.bin`, new Uint8Array(16));
    const target = await tuf.repo.addModel({ model: `${d}/m.onnx`, goldenInput: `${d}/gi.bin`, goldenOutput: `${d}/go.bin`, release: { model: 'press', release: 2, version: '1.2', hardware: { arch: ['x64', 'arm64'], accelerators: ['cpu'] }, minRuntimeVersion: '0.0.1', golden: { inputName: 'x', dims: [1, 4], outputName: 'y', tolerance: '0.0001' }, budgets: { latencyMs: 5000, errorRatePpm: 10_000, probationS: 0 } } });
    await tuf.repo.sign('targets', tuf.keys.priv.targets);
    await tuf.repo.publish(tuf.online());
    const sha = createHash('sha256').update(model).digest('hex');
    const fileUrl = `${tuf.url}/targets/models/press/2/${sha}.model.onnx`;

    // The floor: every client downloads the file, reading and dropping the bytes.
    const floorSlot = limiter(CONCURRENCY);
    const f0 = performance.now();
    await Promise.all(
      Array.from({ length: G }, () => floorSlot(async () => {
        const res = await fetch(fileUrl);
        if (!res.ok || res.body === null) throw new Error(`floor download: HTTP ${res.status}`);
        let n = 0;
        for await (const chunk of res.body) n += (chunk as Uint8Array).byteLength;
        if (n !== bytes) throw new Error(`floor download: ${n} bytes, expected ${bytes}`);
      })),
    );
    const floorS = (performance.now() - f0) / 1000;
    progress(`  floor: ${G} plain downloads of ${bytes / 1048576} MiB in ${floorS.toFixed(1)} s`);

    const data = join(tmp.path, 'fleet');
    const started = await FleetProcess.start(data, { http: await freePort(), mqtt: await freePort() }, ['--repo', `${tuf.dir}/repo`, '--repo-url', tuf.url]);
    fleet = started.fleet;
    const api = started.endpoints.localApiUrl;
    const token = (await readFile(join(data, 'operator-token'), 'utf8')).trim();
    const call = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
      const res = await fetch(`${api}${path}`, { method, headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
      if (!res.ok) throw new Error(`${method} ${path}: HTTP ${res.status} ${await res.text()}`);
      return (await res.json()) as T;
    };
    const ids = Array.from({ length: G }, (_, i) => `gw-${String(i).padStart(5, '0')}`);
    const passwords = new Map<string, string>();
    for (let i = 0; i < G; i += 16) {
      await Promise.all(ids.slice(i, i + 16).map(async (id) => passwords.set(id, (await call<{ credentials: { password: string } }>('POST', '/v1/gateways', { id })).credentials.password)));
      if (i % 208 === 0) progress(`  provisioned ${passwords.size}/${G}`);
    }

    const phases: Phases = { refreshMs: [], downloadMs: [], reportMs: [], noticeAtMs: [] };
    const updateSlot = limiter(CONCURRENCY);
    const broker = started.endpoints.brokerUrl.replace(/\/\/[^:]+:/, '//127.0.0.1:');
    for (let i = 0; i < G; i += 50) {
      await Promise.all(
        ids.slice(i, i + 50).map(async (gw) => {
          const dir = join(tmp.path, 'gws', gw);
          await initTrust(join(dir, 'metadata'), `${tuf.dir}/repo/metadata/1.root.json`);
          const trust = new TrustClient({ metadataDir: join(dir, 'metadata'), metadataUrl: `${tuf.url}/metadata`, targetBaseUrl: `${tuf.url}/targets`, targetDir: join(dir, 'targets') });
          const c = await mqtt.connectAsync(broker, { clientId: `edgewise-${gw}`, username: gw, password: passwords.get(gw) as string, protocolVersion: 4, reconnectPeriod: 1000, keepalive: 120 });
          clients.push(c);
          const report = (step: 'download' | 'install' | 'health' | 'activate', t: string): Promise<unknown> =>
            c.publishAsync(gatewayTopics.updateReport(gw), Buffer.from(encodeUpdateReport({ gw, model: 'press', target: t, release: 2, version: '1.2', step, outcome: 'ok', reason: null, ts: Date.now() })), { qos: 1 });
          c.on('message', (_topic, payload) => {
            const t = decodeReleaseNotice(payload).target;
            phases.noticeAtMs.push(Date.now());
            void updateSlot(async () => {
              const t0 = performance.now();
              await trust.refresh();
              const info = await trust.target(t);
              const t1 = performance.now();
              const { path } = await trust.download(info);
              await rm(path, { force: true });
              const t2 = performance.now();
              for (const step of ['download', 'install', 'health', 'activate'] as const) await report(step, t);
              phases.refreshMs.push(t1 - t0);
              phases.downloadMs.push(t2 - t1);
              phases.reportMs.push(performance.now() - t2);
            }).catch((err: unknown) => {
              // As the updater does: the failure is reported (and counts against the gates).
              progress(`  ${gw}: ${(err as Error).message}`);
              void c.publishAsync(gatewayTopics.updateReport(gw), Buffer.from(encodeUpdateReport({ gw, model: 'press', target: t, release: 2, version: '1.2', step: 'download', outcome: 'failed', reason: `E_TRUST_FETCH: ${(err as Error).message}`, ts: Date.now() })), { qos: 1 });
            });
          });
          await c.subscribeAsync(gatewayTopics.releaseNotice(gw), { qos: 1 });
          await c.publishAsync(gatewayTopics.state(gw), Buffer.from(encodeState({ gw, state: 'online', ts: Date.now(), clean: true, runtimeVersion: '0.1.0' })), { qos: 1, retain: true });
        }),
      );
      if (i % 200 === 0) progress(`  connected ${clients.length}/${G}`);
    }
    await waitFor(async () => (await call<{ online: number }>('GET', '/v1/gateway-counts')).online === G, 'every gateway online', 60_000, 200);

    const r0 = performance.now();
    const created = await call<{ rollout: { id: string } }>('POST', '/v1/rollouts', { target, selector: { kind: 'all' }, waves: [{ kind: 'share', share: 0.01 }, { kind: 'share', share: 0.1 }, { kind: 'share', share: 1 }], ratePerMinute: 1_000_000, gatewayTimeoutMs: 600_000 });
    const id = created.rollout.id;
    let lastWave = -1;
    const waveAt: number[] = [];
    await waitFor(
      async () => {
        const s = await call<{ rollout: { state: string; currentWave: number } }>('GET', `/v1/rollouts/${id}`);
        if (s.rollout.currentWave !== lastWave) {
          lastWave = s.rollout.currentWave;
          waveAt.push((performance.now() - r0) / 1000);
          progress(`  wave ${lastWave + 1} started at ${waveAt[waveAt.length - 1]?.toFixed(1)} s`);
        }
        if (s.rollout.state === 'paused' || s.rollout.state === 'aborted') throw new Error(`rollout ${s.rollout.state}`);
        return s.rollout.state === 'completed';
      },
      'the rollout to reach 100%',
      600_000,
      100,
    );
    const seconds = (performance.now() - r0) / 1000;
    const ms = (xs: number[]): string => `${Math.round(median(xs))} ms`;
    progress(
      `  0 to 100% in ${seconds.toFixed(1)} s (${(seconds / floorS).toFixed(2)}x the floor); per gateway, median: TUF refresh ${ms(phases.refreshMs)}, download and hash ${ms(phases.downloadMs)}, reports ${ms(phases.reportMs)}; waves started at ${waveAt.map((t) => `${t.toFixed(1)} s`).join(', ')}`,
    );
    process.stdout.write(`${JSON.stringify({ bench: 'rollout', value: Math.round(seconds * 10) / 10, gateways: G, bytes, unit: 's', floor_s: Math.round(floorS * 10) / 10, ratio: Math.round((seconds / floorS) * 100) / 100 })}\n`);
  } finally {
    await Promise.all(clients.map((c) => c.endAsync().catch(() => undefined)));
    await fleet?.kill('SIGTERM');
    await tuf.stop();
    await tmp.remove();
  }
}
