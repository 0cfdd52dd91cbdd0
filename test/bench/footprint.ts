import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parse, stringify } from 'yaml';
import { EmbeddedBroker } from '../../fleet/broker/embedded-broker.js';
import { BIN, GatewayProcess, type LogLine } from '../support/gateway-process.js';
import { freePort } from '../support/ports.js';
import { makeTempDir } from '../support/temp-dir.js';
import { waitFor } from '../support/wait-for.js';
import { gatewayNodeEnv, gatewayNodeFlags } from './gateway-flags.js';
import { median, printResult, progress } from './report.js';

/**
 * `npm run bench -- footprint [--starts N] [--load-rate HZ] [--arm64]`: what a gateway costs a Pi-class box
 * (issue 19), measured on the example config (runtime/gateway.example.yaml: one synthetic press
 * at 10 records/s, an anomaly and an aggregate stage, the health endpoint) with a temp dataDir,
 * connected to an embedded aedes broker on 127.0.0.1, started as users start it (bin/edgewise).
 *
 * - ready_ms: from spawn to the `gateway.started` log line (the gateway sends READY=1 to systemd
 *   right after it), median of N starts (3) on the same dataDir (the first creates the store).
 * - idle_rss_mb: VmRSS of the last start after it has settled (connected; the median of 10 s
 *   within 0.5 MB of the 10 s before, at most 120 s), median of 15 samples a second apart.
 * - load_rss_mb: the same config with the press at 1000 records/s (one sample each: the memory
 *   bench's load) through the same stages; median of 15 samples after 30 s of warm-up.
 * - install_mb: `du` of what `edgewise install` puts under its prefix (an install into a scratch
 *   root); the five largest packages.
 * Baselines in the same run: a bare `node -e 'setInterval(...)'`, with Node's defaults and with
 * the gateway's V8 flags (Node's own floor), and a bare `node -e ''` start for ready_ms.
 * Unit: MB = 10^6 bytes. `--arm64`: what emulation can tell of arm64 (test/bench/footprint-arm64.ts).
 */
const ROOT = join(BIN, '..', '..');
const SETTLE_MAX_MS = 120_000;
const SETTLE_WINDOW_S = 10;
const SETTLE_DELTA_BYTES = 0.5e6;
const SAMPLES = 15;
const LOAD_WARM_MS = 30_000;

export function rssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (m === null) throw new Error(`no VmRSS for ${pid}`);
  return Number(m[1]) * 1024;
}

export const mb = (bytes: number): number => Math.round(bytes / 1e5) / 10;

/** The example config with its data in `dataDir`, its uplink to `url`, its health endpoint on a free port (returned), and the press at `rateHz`. */
export async function exampleConfig(path: string, dataDir: string, url: string, rateHz?: number): Promise<string> {
  const config = parse(readFileSync(join(ROOT, 'runtime', 'gateway.example.yaml'), 'utf8')) as {
    gateway: { dataDir: string };
    devices: { rateHz: number; samplesPerRecord: number }[];
    uplink: { url: string };
    health: { listen: string };
  };
  config.gateway.dataDir = dataDir;
  config.uplink.url = url;
  config.health.listen = `127.0.0.1:${await freePort()}`;
  if (rateHz !== undefined) {
    const press = config.devices[0];
    if (press === undefined) throw new Error('runtime/gateway.example.yaml names no device');
    press.rateHz = rateHz;
    press.samplesPerRecord = 1;
  }
  await writeFile(path, stringify(config));
  return config.health.listen;
}

export interface Started {
  readonly gw: GatewayProcess;
  readonly readyMs: number;
  readonly connected: () => boolean;
}

/** Starts `bin/edgewise gateway --config FILE` (or what `launch` spawns) and waits for `gateway.started`. */
export async function startGateway(configPath: string, launch?: () => ChildProcess, timeoutMs = 60_000): Promise<Started> {
  let started = false;
  let connected = false;
  const t0 = performance.now();
  let readyMs = 0;
  const onLine = (l: LogLine): void => {
    if (l.event === 'gateway.started' && !started) {
      started = true;
      readyMs = performance.now() - t0;
    }
    if (l.event === 'uplink.connected') connected = true;
  };
  const gw = launch === undefined ? GatewayProcess.start(configPath, onLine, true) : GatewayProcess.attach(launch(), onLine);
  try {
    await waitFor(() => started || gw.child.exitCode !== null, 'the gateway to start', timeoutMs, 5);
    if (!started) throw new Error(`the gateway exited before it started: ${gw.stderr}`);
  } catch (err) {
    await gw.kill('SIGKILL');
    throw err;
  }
  return { gw, readyMs, connected: () => connected };
}

/**
 * Waits until RSS has settled: the median of the last SETTLE_WINDOW_S seconds within SETTLE_DELTA_BYTES of the
 * window's before it (an idle gateway's RSS saw-tooths by about 1 MB with its heap trim and health reports),
 * at most SETTLE_MAX_MS; then takes SAMPLES samples a second apart.
 */
export async function settledRss(pid: number, label: string, onSample: () => Promise<void> = async () => undefined): Promise<{ value: number; settledS: number }> {
  const seen: number[] = [];
  const t0 = Date.now();
  for (;;) {
    seen.push(rssBytes(pid));
    const elapsed = Date.now() - t0;
    if (seen.length >= 2 * SETTLE_WINDOW_S) {
      const last = median(seen.slice(-SETTLE_WINDOW_S));
      const before = median(seen.slice(-2 * SETTLE_WINDOW_S, -SETTLE_WINDOW_S));
      if (Math.abs(last - before) < SETTLE_DELTA_BYTES) break;
      if (elapsed > SETTLE_MAX_MS) {
        progress(`  ${label}: still moving after ${SETTLE_MAX_MS / 1000} s (medians of the last two ${SETTLE_WINDOW_S} s: ${mb(before)}, ${mb(last)} MB); sampling anyway`);
        break;
      }
    }
    if (seen.length % 10 === 0) progress(`  ${label}: ${Math.round(elapsed / 1000)} s, RSS ${mb(seen[seen.length - 1] as number)} MB`);
    await sleep(1000);
  }
  const settledS = Math.round((Date.now() - t0) / 1000);
  const samples: number[] = [];
  for (let i = 0; i < SAMPLES; i += 1) {
    samples.push(rssBytes(pid));
    await onSample();
    await sleep(1000);
  }
  return { value: median(samples), settledS };
}

/**
 * Disk of an install, as `edgewise install` lays it out: an install under a scratch root (`--root`,
 * no user, no systemd), then `du` of its prefix (disk blocks, as on the card; the pruned copy
 * leaves out dev packages and ONNX Runtime's binaries for other platforms); the five largest
 * packages of the installed version.
 */
async function installFootprint(scratch: string): Promise<InstallSize> {
  const { install } = await import('../../runtime/install/install.js');
  const configPath = await installConfig(scratch);
  const root = join(scratch, 'install-root');
  const manifest = await install({ config: configPath, prefix: '/opt/edgewise', user: 'edgewise', root, from: ROOT }, (line) => progress(`  install: ${line}`));
  return installedSize(root, manifest.version);
}

/** The example config as an install takes it (an absolute dataDir), written into `scratch`. */
export async function installConfig(scratch: string): Promise<string> {
  const configPath = join(scratch, 'install-gateway.yaml');
  const example = parse(readFileSync(join(ROOT, 'runtime', 'gateway.example.yaml'), 'utf8')) as { gateway: { dataDir: string } };
  example.gateway.dataDir = '/var/lib/edgewise';
  await writeFile(configPath, stringify(example));
  return configPath;
}

export interface InstallSize {
  readonly totalBytes: number;
  readonly largest: { name: string; bytes: number }[];
  readonly packages: number;
}

/** `du` of /opt/edgewise under an install's `root`, and the five largest packages of `version`. */
export function installedSize(root: string, version: string): InstallSize {
  const prefix = join(root, 'opt', 'edgewise');
  const du = (dirs: readonly string[]): Map<string, number> =>
    new Map(
      execFileSync('du', ['-s', '-B1', '-c', '--', ...dirs], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 })
        .split('\n')
        .filter((line) => line !== '')
        .map((line) => {
          const tab = line.indexOf('\t');
          return [line.slice(tab + 1), Number(line.slice(0, tab))] as const;
        }),
    );
  const totalBytes = du([prefix]).get('total') ?? NaN;
  const modules = join(prefix, 'versions', version, 'node_modules');
  const top = readdirSync(modules).flatMap((name) => (name.startsWith('@') ? readdirSync(join(modules, name)).map((n) => join(modules, name, n)) : [join(modules, name)])).filter((p) => !basename(p).startsWith('.'));
  const sizes = du(top);
  const largest = top.map((p) => ({ name: p.slice(modules.length + 1), bytes: sizes.get(p) ?? 0 })).sort((a, b) => b.bytes - a.bytes);
  return { totalBytes, largest: largest.slice(0, 5), packages: top.length };
}

export async function benchFootprint(args: readonly string[]): Promise<void> {
  if (args.includes('--arm64')) {
    await (await import('./footprint-arm64.js')).benchFootprintArm64(args);
    return;
  }
  const starts = args.includes('--starts') ? Number(args[args.indexOf('--starts') + 1]) : 3;
  const loadRateHz = args.includes('--load-rate') ? Number(args[args.indexOf('--load-rate') + 1]) : 1000;
  if (!(starts >= 1) || !(loadRateHz > 0)) throw new Error('--starts N (>= 1), --load-rate HZ (> 0)');
  const tmp = await makeTempDir('edgewise-footprint-');
  const broker = await EmbeddedBroker.create();
  const children: ChildProcess[] = [];
  let gw: GatewayProcess | undefined;
  try {
    progress('footprint: install size (edgewise install --root into a scratch directory)');
    const install = await installFootprint(tmp.path);
    progress(`  ${mb(install.totalBytes)} MB under /opt/edgewise: ${install.packages} top-level packages; largest: ${install.largest.map((p) => `${p.name} ${mb(p.bytes)} MB`).join(', ')}`);

    // Baselines: Node itself, idle, with its defaults and with the gateway's flags.
    const bare = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
    const bareFlags = spawn(process.execPath, [...gatewayNodeFlags(), '-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore', env: { ...process.env, ...gatewayNodeEnv() } });
    children.push(bare, bareFlags);
    const bareStarts: number[] = [];
    for (let i = 0; i < starts; i += 1) {
      const t0 = performance.now();
      execFileSync(process.execPath, [...gatewayNodeFlags(), '-e', ''], { stdio: 'ignore' });
      bareStarts.push(performance.now() - t0);
    }

    const configPath = join(tmp.path, 'press-line-1.yaml');
    await exampleConfig(configPath, join(tmp.path, 'data'), broker.url);
    const readies: number[] = [];
    for (let i = 0; i < starts; i += 1) {
      const s = await startGateway(configPath);
      readies.push(s.readyMs);
      progress(`  start ${i + 1}/${starts}: gateway.started after ${Math.round(s.readyMs)} ms`);
      if (i < starts - 1) {
        const exit = await s.gw.kill('SIGTERM');
        if (exit.code !== 0) throw new Error(`the gateway exited with ${exit.code ?? exit.signal} on SIGTERM: ${s.gw.stderr}`);
        continue;
      }
      gw = s.gw;
      await waitFor(s.connected, 'the gateway to connect to the broker', 30_000);
    }
    const readyMs = median(readies);
    const bareStartMs = median(bareStarts);

    progress(`idle: the example config (${basename(configPath)}), connected; settling (the median of ${SETTLE_WINDOW_S} s within ${SETTLE_DELTA_BYTES / 1e6} MB of the ${SETTLE_WINDOW_S} s before, at most ${SETTLE_MAX_MS / 1000} s)`);
    const idle = await settledRss(gw?.child.pid as number, 'idle');
    const bareRss = rssBytes(bare.pid as number);
    const bareFlagsRss = rssBytes(bareFlags.pid as number);
    progress(`  idle gateway ${mb(idle.value)} MB after ${idle.settledS} s; bare node ${mb(bareRss)} MB, bare node with the gateway's flags ${mb(bareFlagsRss)} MB`);
    await gw?.kill('SIGTERM');
    gw = undefined;

    progress(`load: the same config with the press at ${loadRateHz} records/s; ${LOAD_WARM_MS / 1000} s warm-up`);
    const loadConfig = join(tmp.path, 'press-line-1-load.yaml');
    await exampleConfig(loadConfig, join(tmp.path, 'data-load'), broker.url, loadRateHz);
    const l = await startGateway(loadConfig);
    gw = l.gw;
    await waitFor(l.connected, 'the loaded gateway to connect to the broker', 30_000);
    for (let t = 0; t < LOAD_WARM_MS; t += 10_000) {
      await sleep(10_000);
      progress(`  ${(t + 10_000) / 1000} s: RSS ${mb(rssBytes(gw.child.pid as number))} MB`);
    }
    const loadSamples: number[] = [];
    for (let i = 0; i < SAMPLES; i += 1) {
      loadSamples.push(rssBytes(gw.child.pid as number));
      await sleep(1000);
    }
    const load = median(loadSamples);
    progress(`  loaded gateway ${mb(load)} MB (samples ${mb(Math.min(...loadSamples))}-${mb(Math.max(...loadSamples))})`);

    progress(
      `ready ${Math.round(readyMs)} ms (starts: ${readies.map((r) => Math.round(r)).join(', ')}; a bare node start ${Math.round(bareStartMs)} ms, ratio ${(readyMs / bareStartMs).toFixed(1)}); ` +
        `idle ${mb(idle.value)} MB (bare node ${mb(bareRss)}, ratio ${(idle.value / bareRss).toFixed(2)}; over the gateway-flags floor ${mb(bareFlagsRss)}: +${mb(idle.value - bareFlagsRss)} MB); ` +
        `load ${mb(load)} MB (ratio ${(load / bareRss).toFixed(2)}); install ${mb(install.totalBytes)} MB`,
    );
    progress(`extra: bare_node_rss_mb ${mb(bareRss)}, bare_node_flags_rss_mb ${mb(bareFlagsRss)}, bare_start_ms ${Math.round(bareStartMs)}, load_rate_hz ${loadRateHz}`);
    printResult({ bench: 'footprint', idle_rss_mb: mb(idle.value), load_rss_mb: mb(load), install_mb: mb(install.totalBytes), ready_ms: Math.round(readyMs) });
  } finally {
    for (const c of children) c.kill('SIGKILL');
    await gw?.kill('SIGTERM');
    await broker.close();
    await tmp.remove();
  }
}
