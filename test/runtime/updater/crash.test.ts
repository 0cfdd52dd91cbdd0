import { readFile } from 'node:fs/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { OnnxBackend } from '../../../models/engine/backends/onnxruntime/onnx-backend.js';
import { buildModel } from '../../../models/onnx/builder.js';
import { seededRandom } from '../../../models/train/random.js';
import { ModelSlots } from '../../../runtime/updater/slots.js';
import { makeTempDir } from '../../support/temp-dir.js';
import { TufRig } from '../../support/tuf-rig.js';
import { GatewayProcess } from '../../support/gateway-process.js';
import { waitFor } from '../../support/wait-for.js';

const GOLDEN = Float32Array.of(1, 2, 3, 4);

/** y = x * factor, padded with an unused initializer to `padFloats` (a big download). */
function model(factor: number, padFloats: number): Uint8Array {
  return buildModel({ name: 'scale', inputs: [{ name: 'x', dims: [1, 4] }], outputs: [{ name: 'y', dims: [1, 4] }], initializers: [{ name: 'f', dims: [1], data: [factor] }, { name: 'pad', dims: [padFloats], data: new Float32Array(padFloats) }], nodes: [{ op: 'Mul', inputs: ['x', 'f'], outputs: ['y'] }] });
}

describe('gateway under kill -9 while it updates its model', () => {
  let dir: { path: string; remove: () => Promise<void> };
  let rig: TufRig;

  beforeEach(async () => {
    dir = await makeTempDir();
    rig = new TufRig(`${dir.path}/rig`);
    await rig.start();
  });
  afterEach(async () => {
    await rig.stop();
    await dir.remove();
  });

  async function publishRelease(n: number, padFloats: number): Promise<string> {
    const { writeFile, mkdir } = await import('node:fs/promises');
    await mkdir(`${dir.path}/in`, { recursive: true });
    await writeFile(`${dir.path}/in/m${n}.onnx`, model(n, padFloats));
    await writeFile(`${dir.path}/in/gi${n}.bin`, new Uint8Array(GOLDEN.buffer));
    await writeFile(`${dir.path}/in/go${n}.bin`, new Uint8Array(GOLDEN.map((v) => v * n).buffer));
    const path = await rig.repo.addModel({ model: `${dir.path}/in/m${n}.onnx`, goldenInput: `${dir.path}/in/gi${n}.bin`, goldenOutput: `${dir.path}/in/go${n}.bin`, release: { model: 'press', release: n, version: `1.${n}`, hardware: { arch: ['x64', 'arm64'], accelerators: ['cpu'] }, minRuntimeVersion: '0.1.0', golden: { inputName: 'x', dims: [1, 4], outputName: 'y', tolerance: '0.0001' }, budgets: { latencyMs: 5000, errorRatePpm: 10_000, probationS: 0 } } });
    await rig.repo.sign('targets', rig.keys.priv.targets);
    await rig.repo.publish(rig.online());
    return path;
  }

  /**
   * A whole gateway (`edgewise gateway`, its updates section pointing at the repository),
   * killed with SIGKILL `killAfterMs` after it started (or, given `from`, after `from()` first
   * held), or once release `want` is active.
   */
  async function runGateway(want: number, killAfterMs: number, from?: () => boolean): Promise<'killed' | 'done'> {
    const { writeFile } = await import('node:fs/promises');
    const config = `${dir.path}/gw.yaml`;
    await writeFile(config, `
gateway: { id: gw-crash, dataDir: ${JSON.stringify(`${dir.path}/gw`)} }
uplink: { url: "mqtt://127.0.0.1:1", connectTimeoutMs: 1000, reconnect: { minDelayMs: 1000, maxDelayMs: 2000 } }
updates:
  metadataUrl: ${rig.url}/metadata
  targetBaseUrl: ${rig.url}/targets
  rootFile: ${JSON.stringify(`${dir.path}/rig/repo/metadata/1.root.json`)}
  models: [press]
log: { level: error }
`);
    const gw = GatewayProcess.start(config);
    const slots = new ModelSlots(`${dir.path}/gw`, 'press');
    const started = Date.now();
    let clock = from === undefined ? started : undefined;
    let outcome: 'killed' | 'done' = 'killed';
    // Without `from` ever holding, the kill comes after 60 s: the test fails on what it then finds.
    while (clock === undefined ? Date.now() - started < 60_000 : Date.now() - clock < killAfterMs) {
      if ((await slots.active())?.release === want) {
        outcome = 'done';
        break;
      }
      if (clock === undefined && from?.() === true) clock = Date.now();
      await new Promise((r) => setTimeout(r, 10));
    }
    gw.child.kill('SIGKILL');
    await gw.exited;
    return outcome;
  }

  /** Exactly one model is active, its bytes are the ones installed, and it answers its golden input. */
  async function serving(): Promise<number> {
    const slots = new ModelSlots(`${dir.path}/gw`, 'press');
    const active = await slots.active();
    expect(active, 'an active model').toBeDefined();
    const bytes = await slots.bytes(active?.slot ?? 'a', active?.sha256 ?? '');
    const m = await new OnnxBackend().load(bytes, { providers: ['cpu'] });
    try {
      const y = (await m.run({ x: { data: GOLDEN, dims: [1, 4] } }))['y']?.data;
      expect(Array.from(y ?? [])).toEqual(Array.from(GOLDEN.map((v) => v * (active?.release ?? 0))));
    } finally {
      await m.close();
    }
    return active?.release ?? 0;
  }

  it('leaves exactly one of old and new active and serving at every kill, and resumes the download', async () => {
    await publishRelease(1, 10);
    expect(await runGateway(1, 30_000)).toBe('done');
    expect(await serving()).toBe(1);

    // Release 2 is 16 MB, served at about 4 MB/s and honouring ranges.
    await publishRelease(2, 4_000_000);
    const ranges: string[] = [];
    let chunksServed = 0;
    rig.intercept = (path, res) => {
      if (!path.includes('/models/press/2/') || !path.endsWith('.model.onnx')) return false;
      void (async () => {
        const name = path.replace(/^\/targets\//, '');
        const bytes = await readFile(`${dir.path}/rig/repo/targets/${decodeURIComponent(name)}`);
        const req = (res as unknown as { req: { headers: { range?: string } } }).req;
        ranges.push(req.headers.range ?? 'none');
        const from = Number.parseInt(/bytes=(\d+)-/.exec(req.headers.range ?? '')?.[1] ?? '0', 10);
        res.writeHead(from > 0 ? 206 : 200, { 'content-length': bytes.length - from, ...(from > 0 ? { 'content-range': `bytes ${from}-${bytes.length - 1}/${bytes.length}` } : {}) });
        res.on('error', () => undefined);
        for (let at = from; at < bytes.length && !res.destroyed; at += 256 * 1024) {
          res.write(bytes.subarray(at, Math.min(bytes.length, at + 256 * 1024)));
          chunksServed += 1;
          await new Promise((r) => setTimeout(r, 60));
        }
        res.end();
      })();
      return true;
    };
    const random = seededRandom(42);
    let kills = 0;
    let done = false;
    for (let attempt = 0; attempt < 15 && !done; attempt += 1) {
      // Killed 0.2 to 1 s into its download (1 to 4 MB of it), counted from the download's first
      // bytes: on a loaded box a gateway can take longer than 2 s to start, and a kill before the
      // download leaves nothing to resume (start-up and refresh are swept by release 3 below).
      const servedBefore = chunksServed;
      const outcome = await runGateway(2, 200 + Math.floor(random() * 800), () => chunksServed > servedBefore);
      if (outcome === 'killed') kills += 1;
      else done = true;
      expect([1, 2]).toContain(await serving());
    }
    if (!done) expect(await runGateway(2, 60_000)).toBe('done');
    expect(await serving()).toBe(2);
    expect(kills).toBeGreaterThanOrEqual(3);
    // At least one download continued where a killed one stopped.
    expect(ranges.some((r) => r.startsWith('bytes=') && r !== 'bytes=0-')).toBe(true);
    await waitFor(async () => (await new ModelSlots(`${dir.path}/gw`, 'press').active())?.previous?.release === 1, 'release 1 kept for rollback');

    // Release 3, unthrottled: killed after 300 ms, then 360, 420, ... so the kills sweep through
    // start-up, refresh, download, install, health check and activation until one run finishes.
    rig.intercept = undefined;
    // 4 MB: the sweep's cost grows with the square of a whole run's time (each kill comes 60 ms
    // later than the last), and release 2 above already has its 16 MB download killed and resumed.
    await publishRelease(3, 1_000_000);
    const outcomes: ('killed' | 'done')[] = [];
    for (let after = 300; after <= 8000; after += 60) {
      outcomes.push(await runGateway(3, after));
      const release = await serving();
      expect([2, 3]).toContain(release);
      if (release === 3) break;
    }
    expect(await serving()).toBe(3);
    expect(outcomes.filter((o) => o === 'killed').length).toBeGreaterThanOrEqual(2);
  }, 120_000);
});
