import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { InferenceBackend, LoadedModel } from '../../../models/engine/engine.js';
import { ModelError } from '../../../models/engine/errors.js';
import { buildModel, identityModel } from '../../../models/onnx/builder.js';
import type { BackendPlugin } from '../../../runtime/inference/backend-plugin.js';

/**
 * The contract every inference backend keeps, as one suite each implementation runs (MQTT.js's
 * abstract store test): what a stage, the updater and the health report rely on whatever the
 * config's `inference.backend` names. A new backend (Hailo, RKNN, Coral) adds itself to
 * backends.test.ts and passes this.
 */
export interface BackendUnderTest {
  readonly plugin: BackendPlugin;
  /** The `inference` section it is built from (before validation), apart from `providers`, which the suite sets. */
  readonly section: Readonly<Record<string, unknown>>;
  /** A provider the backend knows that cannot run here, so a load falls back from it. */
  readonly absent: (backend: InferenceBackend) => Promise<string>;
}

/** An affine model with a dynamic batch: y = W x + b, W 3x2. */
function affineModel(): Uint8Array {
  return buildModel({
    name: 'affine',
    inputs: [{ name: 'x', dims: ['batch', 2] }],
    outputs: [{ name: 'y', dims: ['batch', 3] }],
    initializers: [
      { name: 'w', dims: [3, 2], data: [1, 0, 0, 1, 1, 1] },
      { name: 'b', dims: [3], data: [0, 0, 10] },
    ],
    nodes: [{ op: 'Gemm', inputs: ['x', 'w', 'b'], outputs: ['y'], attributes: { transB: 1 } }],
  });
}

async function build(t: BackendUnderTest, providers?: readonly string[]): Promise<InferenceBackend> {
  const section = t.plugin.validate({ ...t.section, ...(providers === undefined ? {} : { providers }) });
  if (section.error !== undefined) throw new Error(`${t.plugin.name}: the suite's section is refused: ${JSON.stringify(section.error)}`);
  expect(t.plugin.check(section.value)).toEqual([]);
  return t.plugin.create(section.value);
}

export function backendContract(t: BackendUnderTest): void {
  describe(`inference backend contract: ${t.plugin.name}`, () => {
    let backend: InferenceBackend;
    let available: readonly string[];
    let absent: string;
    const open: LoadedModel[] = [];
    const loaded = async (p: Promise<LoadedModel>): Promise<LoadedModel> => {
      const m = await p;
      open.push(m);
      return m;
    };

    beforeAll(async () => {
      backend = await build(t);
      available = await backend.availableProviders();
      absent = await t.absent(backend);
    });
    afterAll(async () => {
      for (const m of open) await m.close();
      await backend.close?.();
    });

    it('is named as the config names it, and finds at least one provider here, each one it knows by name', () => {
      expect(backend.name).toBe(t.plugin.name);
      expect(available.length).toBeGreaterThan(0);
      for (const p of available) expect(t.plugin.providers).toContain(p);
      expect(t.plugin.providers).toContain(absent);
      expect(available).not.toContain(absent);
    });

    it('loads from bytes, reports inputs and outputs, runs, counts and times each run, and names the bytes by their sha256', async () => {
      const bytes = affineModel();
      const m = await loaded(backend.load(bytes));
      expect(m.inputs).toEqual([{ name: 'x', type: 'float32', shape: ['batch', 2] }]);
      expect(m.outputs).toEqual([{ name: 'y', type: 'float32', shape: ['batch', 3] }]);
      expect(m.sha256).toBe(createHash('sha256').update(bytes).digest('hex'));
      const out = await m.run({ x: { data: Float32Array.from([1, 2, 3, 4]), dims: [2, 2] } });
      expect(out['y']?.dims).toEqual([2, 3]);
      expect(Array.from(out['y']?.data ?? [])).toEqual([1, 2, 13, 3, 4, 17]);
      await m.run({ x: { data: Float32Array.from([0, 0]), dims: [1, 2] } });
      expect(m.stats().runs).toBe(2);
      expect(m.stats().maxMs).toBeGreaterThanOrEqual(m.stats().lastMs);
      expect(m.stats().meanMs).toBeGreaterThan(0);
    });

    it('runs on each provider it found, asked for alone: not degraded, nothing fallen back from', async () => {
      for (const p of available) {
        const m = await loaded(backend.load(identityModel(), { providers: [p], threads: 1 }));
        expect({ provider: m.provider, requested: m.requested, degraded: m.degraded, fallbacks: m.fallbacks }).toEqual({ provider: p, requested: [p], degraded: false, fallbacks: [] });
        const out = await m.run({ x: { data: Float32Array.from([1, -2, 3.5, 0]), dims: [1, 4] } });
        expect(Array.from(out['y']?.data ?? [])).toEqual([1, -2, 3.5, 0]);
      }
    });

    it('falls back along the preference list, says which provider it got and why it skipped each better one, and is flagged degraded', async () => {
      const fallback = available[available.length - 1] as string;
      const m = await loaded(backend.load(identityModel(), { providers: [absent, fallback] }));
      expect(m.provider).toBe(fallback);
      expect(m.requested).toEqual([absent, fallback]);
      expect(m.degraded).toBe(true);
      expect(m.fallbacks.map((f) => f.provider)).toEqual([absent]);
      expect(m.fallbacks[0]?.reason.length).toBeGreaterThan(0);
      // Degraded, still answering.
      expect(Array.from((await m.run({ x: { data: Float32Array.from([4, 3, 2, 1]), dims: [1, 4] } }))['y']?.data ?? [])).toEqual([4, 3, 2, 1]);
    });

    it("a load that names no providers takes the backend's own list (the gateway's inference.providers)", async () => {
      const fallback = available[available.length - 1] as string;
      const configured = await build(t, [absent, fallback]);
      try {
        const m = await loaded(configured.load(identityModel()));
        expect({ provider: m.provider, requested: m.requested, degraded: m.degraded }).toEqual({ provider: fallback, requested: [absent, fallback], degraded: true });
        // A stage's own list wins over the backend's.
        const own = await loaded(configured.load(identityModel(), { providers: [fallback] }));
        expect({ provider: own.provider, degraded: own.degraded }).toEqual({ provider: fallback, degraded: false });
      } finally {
        await configured.close?.();
      }
    });

    it('refuses a model no provider can run with E_MODEL_PROVIDER naming each provider and why', async () => {
      const err = await backend.load(identityModel(), { providers: [absent] }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ModelError);
      expect(err).toMatchObject({ code: 'E_MODEL_PROVIDER' });
      expect((err as Error).message).toContain(absent);
    });

    it('refuses bytes that are not a model with E_MODEL_INVALID, and keeps working', async () => {
      const good = identityModel();
      for (const bad of [good.slice(0, good.length - 7), new Uint8Array(0), new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]), new TextEncoder().encode('not a model at all')]) {
        const err = await backend.load(bad).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(ModelError);
        expect(err).toMatchObject({ code: 'E_MODEL_INVALID' });
        expect((err as Error).message).toMatch(/model/);
      }
      const m = await loaded(backend.load(good));
      expect((await m.run({ x: { data: Float32Array.from([1, 2, 3, 4]), dims: [1, 4] } }))['y']?.dims).toEqual([1, 4]);
    });

    it('refuses bad inputs with E_MODEL_INPUT, and a closed model with E_MODEL_CLOSED; closing twice is harmless', async () => {
      const m = await backend.load(affineModel());
      await expect(m.run({})).rejects.toMatchObject({ code: 'E_MODEL_INPUT' });
      await expect(m.run({ x: { data: Float32Array.from([1, 2, 3]), dims: [1, 3] } })).rejects.toMatchObject({ code: 'E_MODEL_INPUT' });
      await expect(m.run({ x: { data: Float32Array.from([1, 2, 3]), dims: [2, 2] } })).rejects.toMatchObject({ code: 'E_MODEL_INPUT' });
      await m.close();
      await m.close();
      await expect(m.run({ x: { data: Float32Array.from([1, 2]), dims: [1, 2] } })).rejects.toMatchObject({ code: 'E_MODEL_CLOSED' });
    });
  });
}
