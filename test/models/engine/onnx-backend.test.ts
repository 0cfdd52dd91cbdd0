import { execFile } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { PROBE_MODEL_BASE64, probeProvidersInChild } from '../../../models/engine/provider-probe.js';
import { OnnxBackend } from '../../../models/engine/onnx-backend.js';
import { ModelError } from '../../../models/engine/errors.js';
import { buildModel, identityModel } from '../../../models/onnx/builder.js';

const run = promisify(execFile);

describe('ONNX Runtime engine', () => {
  const backend = new OnnxBackend();

  it('lists the providers this installation really has: cpu always, never one that cannot start', async () => {
    const providers = await backend.availableProviders();
    expect(providers).toContain('cpu');
    expect(providers).not.toContain('xnnpack');
    for (const p of providers) {
      const m = await backend.load(identityModel(), [p]);
      expect(m.provider).toBe(p);
      await m.close();
    }
  });

  it('probes in a child process: a gateway that runs no model never maps ONNX Runtime', async () => {
    // A fresh process that only probes: the library must not be among its mappings.
    const script = `const { OnnxBackend } = await import(${JSON.stringify(pathToFileURL(`${process.cwd()}/dist/models/engine/onnx-backend.js`).href)});
      const p = await new OnnxBackend().availableProviders();
      const maps = (await import('node:fs')).readFileSync('/proc/self/maps', 'utf8');
      console.log(JSON.stringify({ p, mapped: maps.includes('libonnxruntime') }));`;
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script]);
    const answer = JSON.parse(stdout.trim()) as { p: string[]; mapped: boolean };
    expect(answer.p).toContain('cpu');
    expect(answer.mapped).toBe(false);
  });

  it('probes with the same one-node model the ONNX writer makes', () => {
    expect(PROBE_MODEL_BASE64).toBe(Buffer.from(identityModel()).toString('base64'));
  });

  it('says why when the probe cannot answer in time, and the process goes on', async () => {
    await expect(probeProvidersInChild(1)).rejects.toThrow(/provider probe: no answer in 0.001 s/);
    // The next probe is a fresh child: it answers.
    expect(await probeProvidersInChild()).toContain('cpu');
  });

  it('falls back along the preference list, says which provider it got, and flags it degraded', async () => {
    const available = await backend.availableProviders();
    const missing = ['tensorrt', 'cuda'].filter((p) => !available.includes(p));
    const m = await backend.load(identityModel(), [...missing, 'cpu']);
    expect(m.provider).toBe('cpu');
    expect(m.degraded).toBe(missing.length > 0);
    expect(m.fallbacks.map((f) => f.provider)).toEqual(missing);
    for (const f of m.fallbacks) expect(f.reason.length).toBeGreaterThan(0);
    await m.close();
    const plain = await backend.load(identityModel(), ['cpu']);
    expect(plain.degraded).toBe(false);
    await plain.close();
  });

  it('exposes input and output names and shapes, runs, and times each run', async () => {
    const bytes = buildModel({
      name: 'affine',
      inputs: [{ name: 'x', dims: ['batch', 2] }],
      outputs: [{ name: 'y', dims: ['batch', 3] }],
      initializers: [
        { name: 'w', dims: [3, 2], data: [1, 0, 0, 1, 1, 1] },
        { name: 'b', dims: [3], data: [0, 0, 10] },
      ],
      nodes: [{ op: 'Gemm', inputs: ['x', 'w', 'b'], outputs: ['y'], attributes: { transB: 1 } }],
    });
    const m = await backend.load(bytes, ['cpu']);
    expect(m.inputs).toEqual([{ name: 'x', type: 'float32', shape: ['batch', 2] }]);
    expect(m.outputs).toEqual([{ name: 'y', type: 'float32', shape: ['batch', 3] }]);
    const out = await m.run({ x: { data: Float32Array.from([1, 2, 3, 4]), dims: [2, 2] } });
    expect(Array.from(out['y']?.data ?? [])).toEqual([1, 2, 13, 3, 4, 17]);
    expect(m.stats().runs).toBe(1);
    expect(m.stats().lastMs).toBeGreaterThan(0);
    expect(m.sha256).toMatch(/^[0-9a-f]{64}$/);
    await expect(m.run({ x: { data: Float32Array.from([1, 2, 3]), dims: [1, 3] } })).rejects.toMatchObject({ code: 'E_MODEL_INPUT' });
    await expect(m.run({})).rejects.toMatchObject({ code: 'E_MODEL_INPUT' });
    await m.close();
    await expect(m.run({ x: { data: Float32Array.from([1, 2]), dims: [1, 2] } })).rejects.toMatchObject({ code: 'E_MODEL_CLOSED' });
  });

  it('refuses a corrupt or truncated model with a typed error, and keeps working', async () => {
    const good = identityModel();
    for (const bad of [good.slice(0, good.length - 7), new Uint8Array(0), new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]), new TextEncoder().encode('not a model at all')]) {
      const err = await backend.load(bad, ['cpu']).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ModelError);
      expect(['E_MODEL_INVALID', 'E_MODEL_PROVIDER']).toContain((err as ModelError).code);
      expect((err as ModelError).message).toMatch(/model/);
    }
    const m = await backend.load(good, ['cpu']);
    expect((await m.run({ x: { data: Float32Array.from([1, 2, 3, 4]), dims: [1, 4] } }))['y']?.dims).toEqual([1, 4]);
    await m.close();
  });
});
