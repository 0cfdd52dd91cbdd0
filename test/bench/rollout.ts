import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { CliProcess } from '../support/cli-process.js';
import { FleetProcess } from '../support/fleet-process.js';
import { freePort } from '../support/ports.js';
import { makeTempDir } from '../support/temp-dir.js';
import { TufRig } from '../support/tuf-rig.js';
import { waitFor } from '../support/wait-for.js';
import { median, progress } from './report.js';
import type { ClientsCommand, ClientsJob, ClientsMessage } from './rollout-clients.js';

/**
 * `npm run bench -- rollout [--gateways 1000] [--mib 5]`: the time to take a release from 0 to
 * 100% active on G simulated gateways (waves of 1%, 10%, 100%; health gates on; shadow off),
 * through the real fleet (a process: embedded broker with logins and ACL, PGlite, the rollout
 * driver) and a real TUF repository served by `edgewise repo serve` (a process of its own, as
 * users run it). A simulated gateway is an MQTT client with its own login and the gateway's
 * own TUF client (tuf-js, the resuming fetcher, metadata written durably): on a notice it
 * refreshes the metadata, downloads and verifies the target, and reports download, install,
 * health and activate (no ONNX health check: that is the updater's, measured in its own
 * tests). The floor, same run: G clients that only download the same file over HTTP from the
 * same server, once before the rollout and once after (`floor_s` is the mean). Both run in THREADS threads, at most 64 at a time: here every gateway, the
 * server and the fleet share two cores (1,000 at once starved the server and downloads timed
 * out). Progress lines also give the CPU seconds each process used in each phase.
 */
/** At most this many simulated updates (and floor downloads) at once: the gateways share this machine's two cores, the HTTP server among them. */
const CONCURRENCY = 64;
/**
 * The clients (floor downloads, simulated gateways) run in this many threads, each with its
 * share of CONCURRENCY: a gateway's own work (hashing and writing its download, TUF checks)
 * runs on its own box, and one thread for all of them left the second core idle while the
 * first was full. The floor's clients are split the same way.
 */
const THREADS = 2;

/** Starts one thread of clients; resolves its messages through `on`, rejects on its error. */
function clientsThread(job: ClientsJob, on: (m: ClientsMessage) => void): { worker: Worker; exited: Promise<void> } {
  const worker = new Worker(new URL('./rollout-clients.js', import.meta.url), { workerData: job });
  worker.on('message', on);
  const exited = new Promise<void>((resolve, reject) => {
    worker.once('error', reject);
    worker.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`a client thread exited with ${code}`))));
  });
  return { worker, exited };
}

/** CPU seconds (user + system) a process has used so far, from /proc (this process: its threads too). */
function cpuSeconds(pid: number | undefined): number {
  if (pid === undefined) return 0;
  // Fields 14 and 15 (utime, stime), counted after the command name's closing parenthesis.
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** Splits `xs` into `n` near-equal parts. */
function split<T>(xs: readonly T[], n: number): T[][] {
  return Array.from({ length: n }, (_, k) => xs.filter((_, i) => i % n === k));
}

function arg(args: readonly string[], name: string, fallback: string): string {
  const i = args.indexOf(name);
  return i >= 0 ? (args[i + 1] ?? fallback) : fallback;
}

interface Phases {
  refreshMs: number[];
  downloadMs: number[];
  reportMs: number[];
}

/** G plain downloads of the file (in THREADS threads, CONCURRENCY at once): seconds, and CPU seconds of [clients, server]. */
async function floor(G: number, fileUrl: string, bytes: number, serverPid: number | undefined): Promise<{ seconds: number; cpu: [number, number] }> {
  const ready: Promise<void>[] = [];
  const done: Promise<void>[] = [];
  const threads = split(Array.from({ length: G }, (_, i) => i), THREADS).map((part) => {
    let isReady!: () => void;
    let isDone!: () => void;
    ready.push(new Promise<void>((r) => (isReady = r)));
    done.push(new Promise<void>((r) => (isDone = r)));
    return clientsThread({ kind: 'floor', url: fileUrl, count: part.length, bytes, concurrency: CONCURRENCY / THREADS }, (m) => {
      if (m.kind === 'ready') isReady();
      if (m.kind === 'floor-done') isDone();
    });
  });
  const failed = Promise.race(threads.map((t) => t.exited.then(() => new Promise<never>(() => undefined))));
  await Promise.race([Promise.all(ready), failed]);
  const cpu0 = [cpuSeconds(process.pid), cpuSeconds(serverPid)] as const;
  const t0 = performance.now();
  for (const t of threads) t.worker.postMessage({ cmd: 'go' } satisfies ClientsCommand);
  await Promise.race([Promise.all(done), failed]);
  const seconds = (performance.now() - t0) / 1000;
  const cpu: [number, number] = [cpuSeconds(process.pid) - cpu0[0], cpuSeconds(serverPid) - cpu0[1]];
  await Promise.all(threads.map((t) => t.exited));
  return { seconds, cpu };
}

export async function benchRollout(args: readonly string[]): Promise<void> {
  const G = Number(arg(args, '--gateways', '1000'));
  const bytes = Number(arg(args, '--mib', '5')) * 1024 * 1024;
  const tmp = await makeTempDir('edgewise-bench-rollout-');
  const tuf = new TufRig(join(tmp.path, 'tuf'));
  let fleet: FleetProcess | undefined;
  let server: CliProcess | undefined;
  let threads: { worker: Worker; exited: Promise<void> }[] = [];
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
    // The repository is served as users serve it: `edgewise repo serve`, its own process
    // (gateways are other machines, and the fleet points them at that server with --repo-url).
    server = CliProcess.start(['repo', 'serve', '--repo', `${tuf.dir}/repo`, '--http', '127.0.0.1:0']);
    const repoUrl = /on (http:\/\/\S+) /.exec(await server.line('stdout', (l) => l.startsWith('serving '), 'edgewise repo serve to listen'))?.[1] as string;
    const fileUrl = `${repoUrl}/targets/models/press/2/${sha}.model.onnx`;

    const floorBefore = await floor(G, fileUrl, bytes, server.child.pid);
    progress(`  floor, before the rollout: ${G} plain downloads of ${bytes / 1048576} MiB in ${floorBefore.seconds.toFixed(1)} s`);

    const data = join(tmp.path, 'fleet');
    const started = await FleetProcess.start(data, { http: await freePort(), mqtt: await freePort() }, ['--repo', `${tuf.dir}/repo`, '--repo-url', repoUrl]);
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

    const phases: Phases = { refreshMs: [], downloadMs: [], reportMs: [] };
    const broker = started.endpoints.brokerUrl.replace(/\/\/[^:]+:/, '//127.0.0.1:');
    const connected: number[] = [];
    const ready: Promise<void>[] = [];
    threads = split(ids, THREADS).map((part, k) => {
      let resolve!: () => void;
      ready.push(new Promise<void>((r) => (resolve = r)));
      const job: ClientsJob = { kind: 'gateways', gateways: part.map((id) => ({ id, password: passwords.get(id) as string })), brokerUrl: broker, repoUrl, rootFile: `${tuf.dir}/repo/metadata/1.root.json`, dir: join(tmp.path, 'gws'), concurrency: CONCURRENCY / THREADS };
      return clientsThread(job, (m) => {
        if (m.kind === 'connected') {
          connected[k] = m.n;
          const n = connected.reduce((x, y) => x + y, 0);
          if (n % 200 === 0) progress(`  connected ${n}/${G}`);
        } else if (m.kind === 'ready') resolve();
        else if (m.kind === 'updated') {
          phases.refreshMs.push(m.refreshMs);
          phases.downloadMs.push(m.downloadMs);
          phases.reportMs.push(m.reportMs);
        } else if (m.kind === 'failed') progress(`  ${m.gw}: ${m.message}`);
      });
    });
    const threadFailed = Promise.race(threads.map((t) => t.exited.then(() => new Promise<never>(() => undefined))));
    await Promise.race([Promise.all(ready), threadFailed]);
    await waitFor(async () => (await call<{ online: number }>('GET', '/v1/gateway-counts')).online === G, 'every gateway online', 60_000, 200);

    const pids = [process.pid, server.child.pid, fleet.child.pid];
    const cpu0 = pids.map(cpuSeconds);
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
      // An operator's status poll, not a load of its own on the fleet under test (each poll
      // is four queries): the finish is known to a quarter of a second.
      250,
    );
    const seconds = (performance.now() - r0) / 1000;
    const cpu = pids.map((pid, i) => cpuSeconds(pid) - (cpu0[i] as number));
    // The floor again, after: this machine is shared, and its load drifts within a run; the
    // floor is the mean of the two, so a busy minute on either side counts for half.
    const floorAfter = await floor(G, fileUrl, bytes, server.child.pid);
    progress(`  floor, after the rollout: ${floorAfter.seconds.toFixed(1)} s`);
    const floorS = (floorBefore.seconds + floorAfter.seconds) / 2;
    const floorCpu = [(floorBefore.cpu[0] + floorAfter.cpu[0]) / 2, (floorBefore.cpu[1] + floorAfter.cpu[1]) / 2];
    const f1 = (x: number | undefined): string => (x ?? 0).toFixed(1);
    progress(`  CPU seconds (the floor: the mean of its two runs): the floor: clients ${f1(floorCpu[0])}, repository server ${f1(floorCpu[1])}; the rollout: gateways ${f1(cpu[0])}, repository server ${f1(cpu[1])}, fleet ${f1(cpu[2])}`);
    const ms = (xs: number[]): string => `${Math.round(median(xs))} ms`;
    progress(
      `  0 to 100% in ${seconds.toFixed(1)} s (${(seconds / floorS).toFixed(2)}x the floor); per gateway, median: TUF refresh ${ms(phases.refreshMs)}, download and hash ${ms(phases.downloadMs)}, reports ${ms(phases.reportMs)}; waves started at ${waveAt.map((t) => `${t.toFixed(1)} s`).join(', ')}`,
    );
    process.stdout.write(`${JSON.stringify({ bench: 'rollout', value: Math.round(seconds * 10) / 10, gateways: G, bytes, unit: 's', floor_s: Math.round(floorS * 10) / 10, floor_runs_s: [floorBefore.seconds, floorAfter.seconds].map((x) => Math.round(x * 10) / 10), ratio: Math.round((seconds / floorS) * 100) / 100 })}\n`);
  } finally {
    for (const t of threads) t.worker.postMessage({ cmd: 'stop' } satisfies ClientsCommand);
    await Promise.all(threads.map((t) => t.exited.catch(() => undefined)));
    await fleet?.kill('SIGTERM');
    await server?.stop();
    await tuf.stop();
    await tmp.remove();
  }
}
