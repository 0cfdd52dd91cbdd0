import { describe, expect, it } from 'vitest';
import { identityModel } from '../../../models/onnx/builder.js';
import { defineBackend, providerListSchema } from '../../../runtime/inference/backend-plugin.js';
import { LazyBackend } from '../../../runtime/inference/lazy-backend.js';
import { newSimNpuCounters, simNpuPlugin } from '../../support/sim-npu-backend.js';

const section = { backend: 'sim-npu' };

describe('the gateway backend, built on first use', () => {
  it('costs nothing until used, then is built once however many ask at the same time', async () => {
    const counters = newSimNpuCounters();
    const backend = new LazyBackend(simNpuPlugin(counters), section);
    expect(backend.name).toBe('sim-npu');
    expect(counters.created).toBe(0);
    const [models, providers] = await Promise.all([Promise.all([backend.load(identityModel()), backend.load(identityModel())]), backend.availableProviders()]);
    expect(counters.created).toBe(1);
    expect(providers).toEqual(['npu', 'cpu']);
    expect(models.map((m) => m.provider)).toEqual(['npu', 'npu']);
    for (const m of models) await m.close();
    await backend.close();
  });

  it('a backend that cannot start fails every use with E_MODEL_PROVIDER naming it and why, without retrying', async () => {
    let attempts = 0;
    const broken = defineBackend({
      name: 'hailo-missing',
      providers: ['hailo'],
      configSchema: { type: 'object', properties: { backend: { const: 'hailo-missing' }, providers: providerListSchema(['hailo'] as const) }, additionalProperties: false } as const,
      create: () => {
        attempts += 1;
        throw new Error('no device at /dev/hailo0');
      },
    });
    const backend = new LazyBackend(broken, { backend: 'hailo-missing' });
    for (const use of [() => backend.load(identityModel()), () => backend.availableProviders(), () => backend.load(identityModel(), { providers: ['hailo'] })]) {
      await expect(use()).rejects.toMatchObject({ code: 'E_MODEL_PROVIDER', message: 'inference backend hailo-missing could not start: no device at /dev/hailo0' });
    }
    expect(attempts).toBe(1);
    await backend.close();
  });

  it('close closes what was built, once; a backend never used is never built to be closed', async () => {
    const counters = newSimNpuCounters();
    const unused = new LazyBackend(simNpuPlugin(counters), section);
    await unused.close();
    expect(counters).toMatchObject({ created: 0, backendsClosed: 0 });

    const used = new LazyBackend(simNpuPlugin(counters), section);
    await (await used.load(identityModel())).close();
    await used.close();
    await used.close();
    expect(counters).toMatchObject({ created: 1, backendsClosed: 1 });
    await expect(used.load(identityModel())).rejects.toMatchObject({ code: 'E_MODEL_CLOSED' });
    expect(counters.created).toBe(1);
  });
});
