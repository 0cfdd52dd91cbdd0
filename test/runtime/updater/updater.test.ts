import { mkdir, readFile, readdir, stat, truncate, writeFile } from 'node:fs/promises';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { generateKey, loadPrivateKey, loadPublicKey, type Role, type TufPublicKey } from '../../../fleet/repo/keys.js';
import { Repository, type SigningKey } from '../../../fleet/repo/repository.js';
import { serveRepository } from '../../../fleet/repo/serve.js';
import { OnnxBackend } from '../../../models/engine/backends/onnxruntime/onnx-backend.js';
import type { InferenceBackend } from '../../../models/engine/engine.js';
import { buildModel } from '../../../models/onnx/builder.js';
import { ManagedModels } from '../../../runtime/updater/managed-models.js';
import { TrustClient, initTrust, type TrustOptions } from '../../../runtime/updater/trust.js';
import { ModelUpdater, UpdateRefused, type UpdateReport } from '../../../runtime/updater/updater.js';
import { makeTempDir } from '../../support/temp-dir.js';

/** y = x * factor on [1, 4]: a real ONNX model whose right answer we know. */
function scaleModel(factor: number): Uint8Array {
  return buildModel({ name: 'scale', inputs: [{ name: 'x', dims: [1, 4] }], outputs: [{ name: 'y', dims: [1, 4] }], initializers: [{ name: 'f', dims: [1], data: [factor] }], nodes: [{ op: 'Mul', inputs: ['x', 'f'], outputs: ['y'] }] });
}

/** A model that takes tens of milliseconds: repeated 512x512 products. */
function slowModel(): Uint8Array {
  const n = 512;
  const w = Float32Array.from({ length: n * n }, (_, i) => ((i % 7) - 3) / 1000);
  const nodes = [{ op: 'MatMul', inputs: ['x', 'w'], outputs: ['h0'] }];
  for (let i = 1; i < 40; i += 1) nodes.push({ op: 'MatMul', inputs: [`h${i - 1}`, 'w'], outputs: [`h${i}`] });
  nodes.push({ op: 'Identity', inputs: ['h39'], outputs: ['y'] });
  return buildModel({ name: 'slow', inputs: [{ name: 'x', dims: [64, n] }], outputs: [{ name: 'y', dims: [64, n] }], initializers: [{ name: 'w', dims: [n, n], data: w }], nodes });
}

const GOLDEN_IN = Float32Array.of(1, 2, 3, 4);

describe('model updater (A/B slots on signed releases)', () => {
  let dir: { path: string; remove: () => Promise<void> };
  let server: Server | undefined;
  let repo: Repository;
  let priv: Record<Role, SigningKey[]>;
  let url: string;
  let reports: UpdateReport[];
  let n = 0;

  async function release(o: { release: number; model?: Uint8Array; expected?: Float32Array; arch?: string[]; minRuntime?: string; latencyMs?: number; dims?: number[]; golden?: Float32Array; inputName?: string }): Promise<string> {
    n += 1;
    const f = (name: string): string => `${dir.path}/in/${n}-${name}`;
    await writeFile(f('model.onnx'), o.model ?? scaleModel(o.release));
    await writeFile(f('gi.bin'), new Uint8Array((o.golden ?? GOLDEN_IN).buffer));
    await writeFile(f('go.bin'), new Uint8Array((o.expected ?? GOLDEN_IN.map((v) => v * o.release)).buffer));
    const path = await repo.addModel({
      model: f('model.onnx'),
      goldenInput: f('gi.bin'),
      goldenOutput: f('go.bin'),
      release: { model: 'press', release: o.release, version: `1.${o.release}`, hardware: { arch: (o.arch ?? ['x64', 'arm64']) as ('x64' | 'arm64')[], accelerators: ['cpu'] }, minRuntimeVersion: o.minRuntime ?? '0.1.0', golden: { inputName: o.inputName ?? 'x', dims: o.dims ?? [1, 4], outputName: 'y', tolerance: '0.0001' }, budgets: { latencyMs: o.latencyMs ?? 1000, errorRatePpm: 50_000, probationS: 600 } },
    });
    await repo.sign('targets', priv.targets);
    await repo.publish({ snapshot: priv.snapshot, timestamp: priv.timestamp });
    return path;
  }

  function updater(managed?: ManagedModels, now?: () => number, events?: TrustOptions['events'], backend: InferenceBackend = new OnnxBackend()): ModelUpdater {
    return new ModelUpdater({
      ...(now === undefined ? {} : { now }),
      ...(managed === undefined ? {} : { shadow: (model, candidate, spec) => managed.shadow(model, candidate, spec) }),
      dataDir: `${dir.path}/gw`,
      trust: new TrustClient({ metadataDir: `${dir.path}/gw/tuf`, metadataUrl: `${url}/metadata`, targetBaseUrl: `${url}/targets`, idleTimeoutMs: 5000, ...(events === undefined ? {} : { events }) }),
      backend,
      providers: ['cpu'],
      runtimeVersion: '0.1.0',
      diskMarginBytes: 1024,
      report: (r) => reports.push(r),
    });
  }

  async function refused(p: Promise<unknown>, code: string, step: string): Promise<void> {
    const err = await p.then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(UpdateRefused);
    expect((err as UpdateRefused).code, (err as Error).message).toBe(code);
    expect((err as UpdateRefused).step).toBe(step);
    expect(reports.at(-1)).toMatchObject({ step, outcome: expect.stringMatching(/refused|failed/) as unknown as string });
  }

  beforeEach(async () => {
    dir = await makeTempDir();
    reports = [];
    const pub = { root: [], targets: [], snapshot: [], timestamp: [] } as Record<Role, TufPublicKey[]>;
    priv = { root: [], targets: [], snapshot: [], timestamp: [] } as Record<Role, SigningKey[]>;
    for (const role of ['root', 'targets', 'snapshot', 'timestamp'] as const) {
      const k = await generateKey(role, `${dir.path}/keys`);
      pub[role].push((await loadPublicKey(k.publicPath)).publicKey);
      priv[role].push(await loadPrivateKey(k.privatePath));
    }
    repo = new Repository(`${dir.path}/repo`);
    await repo.init(pub);
    await repo.sign('root', priv.root);
    await mkdir(`${dir.path}/in`, { recursive: true });
    server = serveRepository(`${dir.path}/repo`);
    await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterEach(async () => {
    if (server !== undefined) await new Promise<void>((resolve) => server?.close(() => resolve()));
    await dir.remove();
  });

  it('activates a signed release in slot a, the next in slot b keeping a for rollback, and reports every step', async () => {
    const r1 = await release({ release: 1 });
    await initTrust(`${dir.path}/gw/tuf`, `${dir.path}/repo/metadata/1.root.json`);
    const u = updater();
    expect(await u.update(r1)).toMatchObject({ slot: 'a', release: 1, previous: null });
    expect(reports.map((r) => `${r.step}:${r.outcome}`)).toEqual(['refresh:ok', 'check:ok', 'download:ok', 'install:ok', 'health:ok', 'activate:ok']);
    const r2 = await release({ release: 2 });
    expect(await u.update(r2)).toMatchObject({ slot: 'b', release: 2, previous: { slot: 'a', release: 1 } });
    const active = await u.slots('press').active();
    expect((await u.slots('press').bytes('b', active?.sha256 ?? '')).length).toBeGreaterThan(0);
  });

  it('runs a candidate in shadow beside the active model and reports how it compared, installing and activating nothing', async () => {
    const r1 = await release({ release: 1 });
    const r2 = await release({ release: 2 });
    await initTrust(`${dir.path}/gw/tuf`, `${dir.path}/repo/metadata/1.root.json`);
    const managed = new ManagedModels(`${dir.path}/gw`);
    const u = updater(managed);
    await u.update(r1);
    // A stage running `press`: each input goes to the active model and, while a shadow runs, to the candidate.
    const backend = new OnnxBackend();
    const active = await backend.load((await managed.load('press'))?.bytes ?? new Uint8Array(), { providers: ['cpu'] });
    let feeding = true;
    managed.subscribeShadow('press', (c) => {
      if (c === undefined) {
        feeding = false;
        return;
      }
      void (async () => {
        const candidate = await backend.load(c.bytes, { providers: ['cpu'] });
        for (let i = 0; feeding; i += 1) {
          const x = { x: { data: Float32Array.of(i, 1, 2, 3), dims: [1, 4] } };
          const a = (await active.run(x))['y']?.data[0] as number;
          const t = performance.now();
          const b = (await candidate.run(x))['y']?.data[0] as number;
          c.sink.run(true, performance.now() - t);
          c.sink.anomaly({ score: a, alerting: a > 10 }, { score: b, alerting: b > 10 });
        }
        await candidate.close();
      })();
    });
    reports = [];
    const summary = await u.shadow(r2, { inferences: 40, maxMs: 30_000 });
    expect(reports.map((r) => `${r.step}:${r.outcome}`)).toEqual(['refresh:ok', 'check:ok', 'download:ok', 'health:ok', 'shadow:ok']);
    expect(reports.at(-1)?.shadow).toEqual(summary);
    expect(summary).toMatchObject({ stages: 1, errors: 0, vision: null });
    expect(summary.inferences).toBeGreaterThanOrEqual(40);
    // y = 2x against y = x: perfectly correlated scores, alerts that disagree from x > 5 to x = 10.
    expect(summary.anomaly?.scoreCorrelation).toBeCloseTo(1, 6);
    expect(summary.anomaly?.alertAgreement).toBeLessThan(1);
    expect(summary.latencyMs?.p99).toBeGreaterThan(0);
    // Nothing changed on disk: release 1 is active and the only one accepted.
    expect((await u.slots('press').active())?.release).toBe(1);
    expect((await u.accepted())['press']).toBe(1);
    await active.close();
    // The same release can still be installed afterwards.
    expect(await u.update(r2)).toMatchObject({ release: 2 });
  });

  it('refuses to shadow where no stage could run the candidate, and never shadows a release that fails its health check', async () => {
    const r1 = await release({ release: 1, expected: Float32Array.of(9, 9, 9, 9) });
    await initTrust(`${dir.path}/gw/tuf`, `${dir.path}/repo/metadata/1.root.json`);
    await refused(updater(new ManagedModels(`${dir.path}/gw`)).shadow(r1, { inferences: 10, maxMs: 5000 }), 'E_UPDATE_GOLDEN', 'health');
    const r2 = await release({ release: 2 });
    await refused(updater().shadow(r2, { inferences: 10, maxMs: 5000 }), 'E_UPDATE_SHADOW', 'shadow');
    // A gateway with stages, none of them running this model: measured nothing, said so.
    const summary = await updater(new ManagedModels(`${dir.path}/gw`)).shadow(r2, { inferences: 10, maxMs: 5000 });
    expect(summary).toMatchObject({ stages: 0, inferences: 0 });
  });

  it('switches back from a release on the fleet\'s word, only from the active one, and does not install it again', async () => {
    const r1 = await release({ release: 1 });
    const r2 = await release({ release: 2 });
    await initTrust(`${dir.path}/gw/tuf`, `${dir.path}/repo/metadata/1.root.json`);
    const u = updater();
    await u.update(r1);
    await u.update(r2);
    reports = [];
    expect(await u.revert(r2)).toMatchObject({ release: 1, slot: 'a' });
    expect(reports).toMatchObject([{ step: 'rollback', outcome: 'ok', target: r2, model: 'press', release: 1 }]);
    expect((await updater().slots('press').active())?.release).toBe(1);
    // Told again (a repeated notice): release 2 is not active, nothing to do, and it says so.
    await refused(u.revert(r2), 'E_UPDATE_NOT_ACTIVE', 'rollback');
    await refused(u.revert('models/press/../../etc/model.onnx'), 'E_UPDATE_PATH', 'rollback');
    // The release it left stays accepted: a notice to install it again is refused.
    await refused(u.update(r2), 'E_UPDATE_ROLLBACK', 'check');
  });

  it('refuses an older release counter even when validly signed, also after a restart', async () => {
    const r1 = await release({ release: 1 });
    const r2 = await release({ release: 2 });
    await initTrust(`${dir.path}/gw/tuf`, `${dir.path}/repo/metadata/1.root.json`);
    await updater().update(r2);
    await refused(updater().update(r1), 'E_UPDATE_ROLLBACK', 'check');
    expect((await updater().slots('press').active())?.release).toBe(2);
  });

  it('refuses the wrong hardware and a runtime too old, before downloading anything', async () => {
    const arm = await release({ release: 1, arch: ['arm'] });
    const future = await release({ release: 2, minRuntime: '99.0.0' });
    await initTrust(`${dir.path}/gw/tuf`, `${dir.path}/repo/metadata/1.root.json`);
    await refused(updater().update(arm), 'E_UPDATE_HARDWARE', 'check');
    await refused(updater().update(future), 'E_UPDATE_RUNTIME', 'check');
    expect(reports.some((r) => r.step === 'download')).toBe(false);
  });

  it('never activates a signed model that fails its health check: wrong output, too slow, corrupt ONNX', async () => {
    const good = await release({ release: 1 });
    const wrong = await release({ release: 2, expected: Float32Array.of(9, 9, 9, 9) });
    const slow = await release({ release: 3, model: slowModel(), latencyMs: 1, dims: [64, 512], golden: new Float32Array(64 * 512), expected: new Float32Array(64 * 512) });
    const corrupt = await release({ release: 4, model: Uint8Array.from({ length: 300 }, (_, i) => (i * 13) & 255) });
    await initTrust(`${dir.path}/gw/tuf`, `${dir.path}/repo/metadata/1.root.json`);
    const u = updater();
    await u.update(good);
    await refused(u.update(wrong), 'E_UPDATE_GOLDEN', 'health');
    await refused(u.update(slow), 'E_UPDATE_LATENCY', 'health');
    await refused(u.update(corrupt), 'E_MODEL_INVALID', 'health');
    expect(await u.slots('press').active()).toMatchObject({ slot: 'a', release: 1 });
    expect((await u.accepted())['press']).toBe(1);
  }, 60_000);

  it('does not refuse a fast model because one golden run met a busy event loop, and says best of how many runs when it does refuse', async () => {
    // The real ONNX Runtime, but the first run of each loaded model waits for a stalled event
    // loop (80 ms of other work) before it answers: what a gateway starting its pipelines meets.
    const onnx = new OnnxBackend();
    const hiccup: InferenceBackend = {
      name: onnx.name,
      availableProviders: () => onnx.availableProviders(),
      load: async (bytes, options) => {
        const model = await onnx.load(bytes, options);
        let first = true;
        return Object.assign(Object.create(model) as typeof model, {
          run: async (feeds: Parameters<typeof model.run>[0]) => {
            if (first) {
              first = false;
              const until = performance.now() + 80;
              while (performance.now() < until) { /* the event loop is busy elsewhere */ }
            }
            return model.run(feeds);
          },
          close: () => model.close(),
        });
      },
    };
    const fine = await release({ release: 1, latencyMs: 50 });
    const slow = await release({ release: 2, model: slowModel(), latencyMs: 1, dims: [64, 512], golden: new Float32Array(64 * 512), expected: new Float32Array(64 * 512) });
    await initTrust(`${dir.path}/gw/tuf`, `${dir.path}/repo/metadata/1.root.json`);
    const u = updater(undefined, undefined, undefined, hiccup);
    expect(await u.update(fine)).toMatchObject({ slot: 'a', release: 1 });
    const err = await u.update(slow).then(() => undefined, (e: unknown) => e as Error);
    expect(err?.message).toMatch(/^E_UPDATE_LATENCY: the golden run took [\d.]+ ms at best of 3 runs, over the 1 ms budget$/);
  }, 60_000);

  it('keeps the active model serving when a release is tampered with in the repository (TUF refuses it)', async () => {
    const r1 = await release({ release: 1 });
    await initTrust(`${dir.path}/gw/tuf`, `${dir.path}/repo/metadata/1.root.json`);
    const u = updater();
    await u.update(r1);
    const r2 = await release({ release: 2 });
    // Someone with write access to the file server, but not to the keys, swaps the model.
    const { readdir } = await import('node:fs/promises');
    const stored = (await readdir(`${dir.path}/repo/targets/models/press/2`)).find((f) => f.endsWith('.model.onnx')) as string;
    await writeFile(`${dir.path}/repo/targets/models/press/2/${stored}`, scaleModel(2).map((b, i) => (i === 40 ? b ^ 1 : b)));
    await refused(u.update(r2), 'E_TRUST_HASH', 'download');
    const active = await u.slots('press').active();
    expect(active).toMatchObject({ slot: 'a', release: 1 });
    const m = await new OnnxBackend().load(await u.slots('press').bytes('a', active?.sha256 ?? ''), { providers: ['cpu'] });
    try {
      expect(Array.from((await m.run({ x: { data: GOLDEN_IN, dims: [1, 4] } }))['y']?.data ?? [])).toEqual([1, 2, 3, 4]);
    } finally {
      await m.close();
    }
  });

  it('refuses a release whose path does not say its model and release (a role cannot sign for another folder)', async () => {
    await release({ release: 1 });
    // Signed, but filed under another model's folder.
    await writeFile(`${dir.path}/in/x.onnx`, scaleModel(5));
    await repo.addTargets([{ path: 'models/camera/5/model.onnx', file: `${dir.path}/in/x.onnx`, custom: { edgewise: { model: 'press', release: 5, version: '9', hardware: { arch: ['x64', 'arm64'], accelerators: ['cpu'] }, minRuntimeVersion: '0.1.0', golden: { input: 'models/press/1/golden-input.bin', inputName: 'x', dims: [1, 4], output: 'models/press/1/golden-output.bin', outputName: 'y', tolerance: '0.0001' }, budgets: { latencyMs: 1000, errorRatePpm: 1000, probationS: 0 } } } }]);
    await repo.sign('targets', priv.targets);
    await repo.publish({ snapshot: priv.snapshot, timestamp: priv.timestamp });
    await initTrust(`${dir.path}/gw/tuf`, `${dir.path}/repo/metadata/1.root.json`);
    await refused(updater().update('models/camera/5/model.onnx'), 'E_UPDATE_PATH', 'check');
  });

  it('never rolls back to a slot that an install since has overwritten', async () => {
    const r1 = await release({ release: 1 });
    const r2 = await release({ release: 2 });
    const bad = await release({ release: 3, expected: Float32Array.of(0, 0, 0, 0) });
    await initTrust(`${dir.path}/gw/tuf`, `${dir.path}/repo/metadata/1.root.json`);
    const u = updater();
    await u.update(r1);
    await u.update(r2); // slot b active, a (release 1) kept for rollback
    await refused(u.update(bad), 'E_UPDATE_GOLDEN', 'health'); // installed into a, then refused
    const active = await u.slots('press').active();
    expect(active).toMatchObject({ slot: 'b', release: 2, previous: null }); // a no longer holds release 1
    await expect(u.slots('press').rollback()).rejects.toThrow(/no previous model/);
  });

  it('refuses a release whose slots would take more than half of the storage budget', async () => {
    const big = await release({ release: 1, model: slowModel() }); // about 1 MB of weights
    await initTrust(`${dir.path}/gw/tuf`, `${dir.path}/repo/metadata/1.root.json`);
    const u = new ModelUpdater({ dataDir: `${dir.path}/gw`, trust: new TrustClient({ metadataDir: `${dir.path}/gw/tuf`, metadataUrl: `${url}/metadata`, targetBaseUrl: `${url}/targets` }), backend: new OnnxBackend(), providers: ['cpu'], runtimeVersion: '0.1.0', diskMarginBytes: 1024, storageBudgetBytes: 1_000_000, report: (r) => reports.push(r) });
    await refused(u.update(big), 'E_UPDATE_BUDGET', 'check');
  });

  it('switches back to the previous model when the new one breaches its error budget in probation', async () => {
    const r1 = await release({ release: 1 });
    const r2 = await release({ release: 2 });
    await initTrust(`${dir.path}/gw/tuf`, `${dir.path}/repo/metadata/1.root.json`);
    const u = updater();
    await u.update(r1);
    await u.update(r2);
    let back;
    for (let i = 0; i < 30 && back === undefined; i += 1) back = await u.recordRun('press', i % 3 !== 0, 2);
    expect(back).toMatchObject({ slot: 'a', release: 1 });
    expect(reports.slice(-2).map((r) => `${r.step}:${r.outcome}`)).toEqual(['probation:failed', 'rollback:ok']);
    expect(reports.at(-2)?.reason).toMatch(/E_UPDATE_PROBATION: error rate/);
    // The failed release is not offered again: a fix needs a higher counter.
    await refused(u.update(r2), 'E_UPDATE_ROLLBACK', 'check');
  });

  it('continues a probation across a restart: the runs counted before count after, and a breach after the restart still rolls back', async () => {
    const r1 = await release({ release: 1 });
    const r2 = await release({ release: 2 });
    await initTrust(`${dir.path}/gw/tuf`, `${dir.path}/repo/metadata/1.root.json`);
    const before = updater();
    await before.update(r1);
    await before.update(r2);
    // 15 runs, every third failing: too few for a verdict (20), enough for one after five more.
    for (let i = 0; i < 15; i += 1) expect(await before.recordRun('press', i % 3 !== 0, 2)).toBeUndefined();

    const after = updater(); // the gateway restarted
    expect(await after.restoreProbations()).toEqual([expect.objectContaining({ model: 'press', release: 2, runs: 15, errors: 5 })]);
    let back;
    for (let i = 15; i < 20 && back === undefined; i += 1) back = await after.recordRun('press', i % 3 !== 0, 2);
    expect(back).toMatchObject({ slot: 'a', release: 1 });
    expect(reports.slice(-2).map((r) => `${r.step}:${r.outcome}`)).toEqual(['probation:failed', 'rollback:ok']);
    expect(reports.at(-2)?.reason).toMatch(/E_UPDATE_PROBATION: error rate .* after 20 runs/);
    // Over: a third process has nothing to continue.
    expect(await updater().restoreProbations()).toEqual([]);
  });

  it('ends a resumed probation at its original deadline, not a new one counted from the restart', async () => {
    let t = Date.UTC(2026, 10, 29);
    const now = (): number => t;
    const r1 = await release({ release: 1 });
    await initTrust(`${dir.path}/gw/tuf`, `${dir.path}/repo/metadata/1.root.json`);
    await updater(undefined, now).update(r1);
    t += 590_000; // 10 s before the 600 s window ends
    const after = updater(undefined, now);
    expect(await after.restoreProbations()).toHaveLength(1);
    expect(await after.recordRun('press', true, 2)).toBeUndefined();
    expect(reports.at(-1)?.step).not.toBe('probation');
    t += 20_000;
    expect(await after.recordRun('press', false, 2)).toBeUndefined();
    expect(reports.at(-1)).toMatchObject({ step: 'probation', outcome: 'ok', release: 1 });
  });

  it('does not resume the probation of a release that is no longer active', async () => {
    const r1 = await release({ release: 1 });
    const r2 = await release({ release: 2 });
    await initTrust(`${dir.path}/gw/tuf`, `${dir.path}/repo/metadata/1.root.json`);
    const u = updater();
    await u.update(r1);
    await u.update(r2);
    await u.slots('press').rollback(); // switched back behind the updater's back (another process, a crash mid-rollback)
    expect(await updater().restoreProbations()).toEqual([]);
  });

  it('replaces the trusted metadata files by rename (temp file, fsync, rename), never in place, and leaves no temp file', async () => {
    const r1 = await release({ release: 1 });
    await initTrust(`${dir.path}/gw/tuf`, `${dir.path}/repo/metadata/1.root.json`);
    await updater().update(r1);
    const tuf = `${dir.path}/gw/tuf`;
    const before = { timestamp: (await stat(`${tuf}/timestamp.json`)).ino, snapshot: (await stat(`${tuf}/snapshot.json`)).ino, targets: (await stat(`${tuf}/targets.json`)).ino };
    const r2 = await release({ release: 2 });
    await updater().update(r2);
    // Written in place, a file keeps its inode: a power cut mid-write would leave it torn.
    expect((await stat(`${tuf}/timestamp.json`)).ino).not.toBe(before.timestamp);
    expect((await stat(`${tuf}/snapshot.json`)).ino).not.toBe(before.snapshot);
    expect((await stat(`${tuf}/targets.json`)).ino).not.toBe(before.targets);
    expect((await readdir(tuf)).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    expect(await readFile(`${tuf}/root.json.bak`)).toEqual(await readFile(`${tuf}/root.json`));
  });

  it('recovers from torn, empty and garbled metadata between runs: the root from root.json.bak (and says so), the rest from the repository; it still refreshes and installs', async () => {
    const r1 = await release({ release: 1 });
    await initTrust(`${dir.path}/gw/tuf`, `${dir.path}/repo/metadata/1.root.json`);
    await updater().update(r1);
    const tuf = `${dir.path}/gw/tuf`;
    const goodRoot = await readFile(`${tuf}/root.json`);
    const warned: { event: string; fields: Record<string, unknown> }[] = [];
    const events = { warn: (event: string, fields: Record<string, unknown> = {}) => void warned.push({ event, fields }) };

    // Power cut while the old writer wrote root.json: half of it. And the others: empty, garbage, torn.
    await truncate(`${tuf}/root.json`, Math.floor(goodRoot.length / 2));
    await writeFile(`${tuf}/timestamp.json`, '');
    await writeFile(`${tuf}/snapshot.json`, Buffer.from([0x7b, 0xff, 0x00, 0x13]));
    await truncate(`${tuf}/targets.json`, 10);
    const r2 = await release({ release: 2 });
    expect(await updater(undefined, undefined, events).update(r2)).toMatchObject({ release: 2 });
    expect(warned).toEqual([{ event: 'update.trust_root_recovered', fields: expect.objectContaining({ code: 'E_TRUST_ROOT', file: `${tuf}/root.json`, from: `${tuf}/root.json.bak` }) }]);
    expect(await readFile(`${tuf}/root.json`)).toEqual(goodRoot);

    // Empty this time, and the next run again refreshes and installs.
    await writeFile(`${tuf}/root.json`, '');
    const r3 = await release({ release: 3 });
    expect(await updater(undefined, undefined, events).update(r3)).toMatchObject({ release: 3 });
    expect(warned).toHaveLength(2);
  });

  it('says plainly that there is no trusted root when root.json and its backup are both unreadable', async () => {
    const r1 = await release({ release: 1 });
    await initTrust(`${dir.path}/gw/tuf`, `${dir.path}/repo/metadata/1.root.json`);
    await updater().update(r1);
    await writeFile(`${dir.path}/gw/tuf/root.json`, '{"signed": ');
    await writeFile(`${dir.path}/gw/tuf/root.json.bak`, '');
    expect(() => updater()).toThrow(/E_TRUST_ROOT|no trusted root/);
  });
});
