import type { OnnxBackend } from '../../models/engine/backends/onnxruntime/onnx-backend.js';
import type { InferenceBackend, LoadOptions, LoadedModel, RunStats, Tensor, TensorSpec } from '../../models/engine/engine.js';
import { ModelError } from '../../models/engine/errors.js';
import { defineBackend, providerListSchema, type BackendPlugin, type BackendWorker } from '../../runtime/inference/backend-plugin.js';

/**
 * A test-only inference backend, `inference: { backend: sim-npu }`: an NPU accelerator that is
 * there or not (`devicePresent`), as a Hailo or RKNN backend would see its device, with ONNX
 * Runtime's CPU provider doing the arithmetic underneath. It has its own name, its own
 * provider names (`npu`, `cpu`), its own section schema and its own fallback rule, so a stage
 * that runs on it proves it runs on whatever backend the config names. It counts what it is
 * asked to do, for tests to see that the work really went through it.
 */
export const SIM_NPU_PROVIDERS = ['npu', 'cpu'] as const;

export const simNpuSchema = {
  type: 'object',
  properties: {
    backend: { const: 'sim-npu' },
    providers: providerListSchema(SIM_NPU_PROVIDERS),
    /** Whether the (simulated) NPU is plugged in. */
    devicePresent: { type: 'boolean' },
  },
  required: ['backend'],
  additionalProperties: false,
} as const;

/** What the backend was asked to do (shared by every instance one plug-in builds). */
export interface SimNpuCounters {
  created: number;
  loads: number;
  runs: number;
  modelsClosed: number;
  backendsClosed: number;
}

export const SIM_NPU_DEVICE = '/dev/sim-npu0';

class SimNpuModel implements LoadedModel {
  constructor(
    private readonly inner: LoadedModel,
    readonly provider: string,
    readonly requested: readonly string[],
    readonly fallbacks: readonly { provider: string; reason: string }[],
    private readonly counters: SimNpuCounters,
  ) {}

  get degraded(): boolean {
    return this.provider !== this.requested[0];
  }
  get sha256(): string {
    return this.inner.sha256;
  }
  get inputs(): readonly TensorSpec[] {
    return this.inner.inputs;
  }
  get outputs(): readonly TensorSpec[] {
    return this.inner.outputs;
  }
  async run(feeds: Readonly<Record<string, Tensor>>): Promise<Record<string, Tensor>> {
    const out = await this.inner.run(feeds);
    this.counters.runs += 1;
    return out;
  }
  stats(): RunStats {
    return this.inner.stats();
  }
  async close(): Promise<void> {
    await this.inner.close();
    this.counters.modelsClosed += 1;
  }
}

class SimNpuBackend implements InferenceBackend {
  readonly name = 'sim-npu';

  constructor(
    private readonly cpu: OnnxBackend,
    private readonly present: boolean,
    private readonly providers: readonly string[],
    private readonly counters: SimNpuCounters,
  ) {}

  async availableProviders(): Promise<readonly string[]> {
    return this.present ? ['npu', 'cpu'] : ['cpu'];
  }

  async load(bytes: Uint8Array, options: LoadOptions = {}): Promise<LoadedModel> {
    this.counters.loads += 1;
    const requested = options.providers !== undefined && options.providers.length > 0 ? options.providers : this.providers;
    const fallbacks: { provider: string; reason: string }[] = [];
    for (const provider of requested) {
      if (provider === 'npu' && !this.present) {
        fallbacks.push({ provider, reason: `no NPU at ${SIM_NPU_DEVICE}` });
        continue;
      }
      if (provider !== 'npu' && provider !== 'cpu') {
        fallbacks.push({ provider, reason: 'not a sim-npu provider' });
        continue;
      }
      // A bad model is refused here as ONNX Runtime refuses it (E_MODEL_INVALID), on any provider.
      const inner = await this.cpu.load(bytes, { providers: ['cpu'], ...(options.threads === undefined ? {} : { threads: options.threads }) });
      return new SimNpuModel(inner, provider, requested, fallbacks, this.counters);
    }
    throw new ModelError('E_MODEL_PROVIDER', `no sim-npu provider could run the model: ${fallbacks.map((f) => `${f.provider}: ${f.reason}`).join('; ')}`);
  }

  async close(): Promise<void> {
    this.counters.backendsClosed += 1;
  }
}

/**
 * The sim-npu plug-in; `counters` collects what every backend it builds in this thread is asked
 * to do. `worker`: whether a worker thread may build it (by default it may not, and says nothing).
 */
export function simNpuPlugin(counters: SimNpuCounters = newSimNpuCounters(), worker?: BackendWorker): BackendPlugin {
  return defineBackend({
    name: 'sim-npu',
    ...(worker === undefined ? {} : { worker }),
    providers: SIM_NPU_PROVIDERS,
    configSchema: simNpuSchema,
    create: async (config) => {
      counters.created += 1;
      const { OnnxBackend } = await import('../../models/engine/backends/onnxruntime/onnx-backend.js');
      return new SimNpuBackend(new OnnxBackend({ threads: 1 }), config.devicePresent ?? true, config.providers ?? ['npu', 'cpu'], counters);
    },
  });
}

export function newSimNpuCounters(): SimNpuCounters {
  return { created: 0, loads: 0, runs: 0, modelsClosed: 0, backendsClosed: 0 };
}

/**
 * sim-npu as a third-party plug-in a worker thread may build too: the worker imports this module
 * (compiled, from dist/) and finds it here by name. What the worker's instance does is counted in
 * the worker, not in `counters` here.
 */
export const simNpuWorkerPlugin: BackendPlugin = simNpuPlugin(newSimNpuCounters(), { module: import.meta.url });
