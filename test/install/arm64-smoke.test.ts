import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { Aedes } from 'aedes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeBatch } from '../../fleet/protocol/batch.js';
import { prepareArm64App, QEMU, SYSROOT, type Arm64App } from '../support/arm64-app.js';
import { listenOnLoopback } from '../support/ports.js';
import { waitFor } from '../support/wait-for.js';

// edgewise on linux-arm64, under qemu-user on this x64 box (test/support/arm64-app.ts: the arm64
// Node.js 20 from the npm registry, an `npm ci --cpu=arm64` of the project, the built dist/ and
// bin/, Debian's arm64 libc as qemu's sysroot, a `node` shim first on PATH so bin/edgewise runs
// as shipped). scripts/ensure-test-programs.mjs installs qemu and the sysroot, so this never skips.

const ROOT = join(import.meta.dirname, '..', '..');
const MODEL = join('models', 'vision', 'classifier', 'defect-classifier.onnx');
const DETECTOR = join('models', 'vision', 'detector', 'defect-detector.onnx');

const timings: Record<string, number> = {};
async function timed<T>(what: string, f: () => T | Promise<T>): Promise<T> {
  const started = Date.now();
  try {
    return await f();
  } finally {
    timings[what] = Date.now() - started;
  }
}

describe('edgewise on linux-arm64 (qemu-user)', () => {
  let arm: Arm64App;
  let temp: Arm64App['temp'];
  let app: string;
  let shimPath: string;
  let withArmCpuinfo: Arm64App['withArmCpuinfo'];

  function edgewise(args: readonly string[]): { status: number | null; stdout: string; stderr: string } {
    const r = spawnSync('sh', [join(app, 'bin', 'edgewise'), ...args], { cwd: app, encoding: 'utf8', env: { ...process.env, PATH: shimPath }, timeout: 180_000 });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
  }

  beforeAll(async () => {
    expect(existsSync(QEMU), `${QEMU} (qemu-user-static): run node scripts/ensure-test-programs.mjs`).toBe(true);
    expect(existsSync(join(SYSROOT, 'lib', 'ld-linux-aarch64.so.1')), `${SYSROOT} (libc6-arm64-cross)`).toBe(true);
    expect(existsSync(join(ROOT, 'dist', 'cli', 'main.js')), 'dist/: run npm run build (npm test does it)').toBe(true);
    arm = await prepareArm64App({
      files: [
        [MODEL, MODEL],
        [DETECTOR, DETECTOR],
        [join('test', 'install', 'arm64-probe.mjs'), 'arm64-probe.mjs'],
      ],
      step: (what, f) => timed(what, f),
    });
    ({ temp, app, shimPath, withArmCpuinfo } = arm);
    expect(execFileSync('file', ['-L', arm.node], { encoding: 'utf8' })).toMatch(/ARM aarch64/);
  }, 600_000);

  afterAll(async () => {
    console.log(JSON.stringify({ arm64_smoke_ms: timings }));
    await temp?.remove();
  });

  it('installs the arm64 builds of the native modules', () => {
    for (const f of ['node_modules/classic-level/prebuilds/linux-arm64/classic-level.armv8.node', 'node_modules/onnxruntime-node/bin/napi-v6/linux/arm64/onnxruntime_binding.node']) {
      expect(execFileSync('file', ['-L', join(app, f)], { encoding: 'utf8' }), f).toMatch(/ELF 64-bit LSB shared object, ARM aarch64/);
    }
  });

  it('checks the example config with edgewise gateway --check', async () => {
    const r = await timed('gateway --check', () => edgewise(['gateway', '--config', join(app, 'runtime', 'gateway.example.yaml'), '--check']));
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/^config ok: gateway press-line-1/);
    expect(r.status).toBe(0);
  }, 200_000);

  it('refuses at --check a camera config when the H.264 decoder cannot load (no FFmpeg 6 libraries in the sysroot)', async () => {
    const example = readFileSync(join(app, 'runtime', 'gateway.example.yaml'), 'utf8');
    const camera = example
      .replace(/^devices:\n/m, 'devices:\n  - id: cam-1\n    type: camera\n    input: { tcp: 127.0.0.1:5000 }\n    streamFps: 30\n    fps: 10\n')
      .replace(/^pipelines:\n/m, 'pipelines:\n  - id: cam-1\n    source: cam-1\n    stages:\n      - type: vision\n');
    writeFileSync(join(app, 'runtime', 'camera.yaml'), camera);
    const r = await timed('gateway --check (camera)', () => edgewise(['gateway', '--config', join(app, 'runtime', 'camera.yaml'), '--check']));
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/devices\[0\]\.type: expected a loadable H\.264 decoder for cameras \(node-webcodecs\)/);
    expect(r.stderr).toMatch(/libavcodec\.so\.60/);
    expect(r.stderr).toMatch(/FFmpeg 6 libraries \(Ubuntu 24\.04-class\) or build node-webcodecs from source/);
  }, 200_000);

  it('opens the store (LevelDB) and runs one ONNX inference with the arm64 binaries', async () => {
    const out = await timed('store + ONNX probe', () =>
      execFileSync('unshare', withArmCpuinfo(['node', 'arm64-probe.mjs', join(app, MODEL), join(temp.path, 'probe-db')]), { cwd: app, encoding: 'utf8', env: { ...process.env, PATH: shimPath }, timeout: 300_000 }),
    );
    const probe = JSON.parse(out.trim().split('\n').pop() ?? '{}') as { arch: string; store: unknown; inference: { outputDims: number[]; finite: boolean; ms: number }; nativeModules: string[] };
    expect(probe.arch).toBe('arm64');
    expect(probe.store).toEqual({ t: 1, v: 42 });
    expect(probe.inference.outputDims).toEqual([1, 3]);
    expect(probe.inference.finite).toBe(true);
    // What the emulated process really mapped, and that each is an aarch64 object.
    expect(probe.nativeModules.some((p) => p.endsWith('onnxruntime_binding.node'))).toBe(true);
    expect(probe.nativeModules.some((p) => p.includes('classic-level'))).toBe(true);
    for (const p of probe.nativeModules) expect(execFileSync('file', ['-L', p], { encoding: 'utf8' }), p).toMatch(/ARM aarch64/);
    timings['ONNX session + run (in the probe)'] = probe.inference.ms;
  }, 320_000);

  it('runs the example gateway: it stores its records and delivers them over MQTT to a broker on 127.0.0.1', async () => {
    const aedes = await Aedes.createBroker();
    const server: Server = createServer(aedes.handle);
    const port = await listenOnLoopback(server);
    // The record batches the emulated gateway publishes, decoded as the fleet decodes them.
    const streams = new Map<string, number>();
    let batches = 0;
    let rejected = 0;
    aedes.on('publish', (packet, client) => {
      if (!client || packet.topic !== 'edgewise/v1/gw/press-line-1/records') return;
      const batch = decodeBatch(packet.payload as Buffer);
      batches += 1;
      rejected += batch.rejected.length;
      for (const r of batch.records) streams.set(r.stream, (streams.get(r.stream) ?? 0) + 1);
    });
    const config = readFileSync(join(app, 'runtime', 'gateway.example.yaml'), 'utf8')
      .replace(/^( {2}dataDir:) data\b/m, `$1 ${join(temp.path, 'gateway-data')}`)
      .replace('url: mqtt://127.0.0.1:1883', `url: mqtt://127.0.0.1:${port}`)
      .replace('listen: 127.0.0.1:9464', 'listen: 127.0.0.1:0');
    const configFile = join(app, 'runtime', 'smoke.yaml');
    writeFileSync(configFile, config);
    let gateway: ChildProcess | undefined;
    let output = '';
    try {
      const started = Date.now();
      gateway = spawn('unshare', withArmCpuinfo(['sh', join(app, 'bin', 'edgewise'), 'gateway', '--config', configFile]), { cwd: app, env: { ...process.env, PATH: shimPath }, stdio: ['ignore', 'pipe', 'pipe'] });
      gateway.stdout?.on('data', (d: Buffer) => (output += d.toString()));
      gateway.stderr?.on('data', (d: Buffer) => (output += d.toString()));
      await waitFor(() => gateway?.exitCode === null && batches >= 3, `3 record batches from the emulated gateway (output so far: ${output.slice(-2000)})`, 300_000, 200);
      timings['gateway start to 3 batches delivered'] = Date.now() - started;
      expect(rejected).toBe(0);
      // The example's pipeline stores 1 s summaries of press-1 (its aggregate stage).
      expect([...streams.keys()].some((name) => name.startsWith('press-1')), JSON.stringify([...streams])).toBe(true);
      const stopping = Date.now();
      gateway.kill('SIGTERM');
      const code = await new Promise<number | null>((resolve) => (gateway?.exitCode !== null ? resolve(gateway?.exitCode ?? null) : gateway.once('exit', (c) => resolve(c))));
      timings['gateway SIGTERM to exit'] = Date.now() - stopping;
      expect(code, output.slice(-2000)).toBe(0);
      expect(existsSync(join(temp.path, 'gateway-data'))).toBe(true);
    } finally {
      if (gateway?.exitCode === null) gateway.kill('SIGKILL');
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await new Promise<void>((resolve) => aedes.close(() => resolve()));
    }
  }, 400_000);
});
