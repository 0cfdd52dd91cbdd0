import type * as Ort from 'onnxruntime-node';
import { ModelError } from '../../errors.js';
import type { InferenceBackend, LoadOptions, LoadedModel, RunStats, Tensor, TensorSpec } from '../../engine.js';
import { probeProvidersInChild } from './provider-probe.js';

/** ONNX Runtime's "fatal only": a provider probe that fails must not spray the log. */
const QUIET = 4;

let runtime: Promise<typeof Ort> | undefined;

/**
 * ONNX Runtime, loaded when the first model is: its library is some 25 MB of resident memory,
 * which a gateway that only moves sensor records should not carry (the provider probe runs
 * in a child process for the same reason).
 */
function onnxRuntime(): Promise<typeof Ort> {
  runtime ??= import('onnxruntime-node').then((m) => {
    const ort = ((m as unknown as { default?: typeof Ort }).default ?? m) as typeof Ort;
    // Provider libraries that fail to load log through the process-wide logger, not the
    // session's; their failures reach us as exceptions, which we report as events.
    ort.env.logLevel = 'fatal';
    return ort;
  });
  return runtime;
}

function reason(err: unknown): string {
  const m = (err as Error).message ?? String(err);
  // ORT messages carry ANSI colours and long source paths; the first sentence says enough.
  return m.replace(/\u001b\[[0-9;]*m/g, '').split(/\n|\. (?=[A-Z])/)[0]?.slice(0, 300) ?? m;
}

function specs(names: readonly string[], metadata: readonly unknown[] | undefined): TensorSpec[] {
  return names.map((name, i) => {
    const m = metadata?.[i] as { isTensor?: boolean; type?: string; shape?: (number | string)[] } | undefined;
    return { name, type: m?.type ?? 'unknown', shape: m?.shape ?? [] };
  });
}

class OnnxModel implements LoadedModel {
  readonly inputs: readonly TensorSpec[];
  readonly outputs: readonly TensorSpec[];
  private runs = 0;
  private totalMs = 0;
  private maxMs = 0;
  private lastMs = 0;
  private closed = false;

  constructor(
    private readonly ort: typeof Ort,
    private readonly session: Ort.InferenceSession,
    readonly provider: string,
    readonly requested: readonly string[],
    readonly fallbacks: readonly { provider: string; reason: string }[],
    readonly sha256: string,
  ) {
    const s = session as unknown as { inputMetadata?: readonly unknown[]; outputMetadata?: readonly unknown[] };
    this.inputs = specs(session.inputNames, s.inputMetadata);
    this.outputs = specs(session.outputNames, s.outputMetadata);
  }

  get degraded(): boolean {
    return this.provider !== this.requested[0];
  }

  async run(feeds: Readonly<Record<string, Tensor>>): Promise<Record<string, Tensor>> {
    if (this.closed) throw new ModelError('E_MODEL_CLOSED', 'model used after close');
    const ortFeeds: Record<string, Ort.Tensor> = {};
    for (const spec of this.inputs) {
      const t = feeds[spec.name];
      if (t === undefined) throw new ModelError('E_MODEL_INPUT', `input ${spec.name}: missing (the model takes ${this.inputs.map((i) => i.name).join(', ')})`);
      const size = t.dims.reduce((a, b) => a * b, 1);
      if (size !== t.data.length) throw new ModelError('E_MODEL_INPUT', `input ${spec.name}: dims [${t.dims.join(', ')}] need ${size} values, got ${t.data.length}`);
      if (spec.shape.length > 0 && spec.shape.length !== t.dims.length) throw new ModelError('E_MODEL_INPUT', `input ${spec.name}: expected ${spec.shape.length} dims [${spec.shape.join(', ')}], got [${t.dims.join(', ')}]`);
      spec.shape.forEach((d, i) => {
        if (typeof d === 'number' && d > 0 && t.dims[i] !== d) throw new ModelError('E_MODEL_INPUT', `input ${spec.name}: dim ${i} must be ${d}, got ${String(t.dims[i])}`);
      });
      ortFeeds[spec.name] = new this.ort.Tensor('float32', t.data, [...t.dims]);
    }
    const t0 = performance.now();
    let out: Ort.InferenceSession.OnnxValueMapType;
    try {
      out = await this.session.run(ortFeeds);
    } catch (err) {
      throw new ModelError('E_MODEL_RUN', `inference failed: ${reason(err)}`, { cause: err });
    }
    const ms = performance.now() - t0;
    this.runs += 1;
    this.totalMs += ms;
    this.lastMs = ms;
    if (ms > this.maxMs) this.maxMs = ms;
    const result: Record<string, Tensor> = {};
    for (const [name, value] of Object.entries(out)) {
      const v = value as Ort.Tensor;
      result[name] = { data: v.data instanceof Float32Array ? v.data : Float32Array.from(v.data as ArrayLike<number>), dims: [...v.dims] };
    }
    return result;
  }

  stats(): RunStats {
    return { runs: this.runs, lastMs: this.lastMs, meanMs: this.runs === 0 ? 0 : this.totalMs / this.runs, maxMs: this.maxMs };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.session.release();
  }
}

/**
 * ONNX Runtime (onnxruntime-node). Providers are tried one at a time in the order asked,
 * so the engine knows which one it got: ONNX Runtime given a list falls back silently.
 */
export interface OnnxBackendOptions {
  /** Execution providers in order of preference, for a load that names none (default: cpu). */
  readonly providers?: readonly string[];
  /**
   * Threads one inference may use (ONNX Runtime's intra-op pool; default: one per core).
   * Small models on a 2-core box run faster on one: waking a pool costs more than the work,
   * and the other core is decoding video. A load's own `threads` wins.
   */
  readonly threads?: number;
}

export class OnnxBackend implements InferenceBackend {
  readonly name = 'onnxruntime';
  private probed: Promise<readonly string[]> | undefined;

  constructor(private readonly options: OnnxBackendOptions = {}) {}

  /**
   * The providers a session really starts on here (cpu, and e.g. cuda where its libraries
   * and a GPU are present). Probed once, in a child process (see provider-probe.ts): a
   * provider library that crashes on load takes the probe down, not the gateway.
   */
  availableProviders(): Promise<readonly string[]> {
    this.probed ??= probeProvidersInChild();
    return this.probed;
  }

  async load(bytes: Uint8Array, options: LoadOptions = {}): Promise<LoadedModel> {
    const requested = [options.providers, this.options.providers, ['cpu']].find((list) => list !== undefined && list.length > 0) as readonly string[];
    const threadCount = options.threads ?? this.options.threads;
    // Node's crypto module loads with the first model, not with every gateway.
    const { createHash } = await import('node:crypto');
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    if (bytes.length === 0) throw new ModelError('E_MODEL_INVALID', 'model is empty (0 bytes)');
    const fallbacks: { provider: string; reason: string }[] = [];
    const ort = await onnxRuntime();
    for (const provider of requested) {
      try {
        const threads = threadCount === undefined ? {} : { intraOpNumThreads: threadCount, interOpNumThreads: 1 };
        const session = await ort.InferenceSession.create(bytes, { executionProviders: [provider], logSeverityLevel: provider === requested[requested.length - 1] ? 3 : QUIET, ...threads });
        return new OnnxModel(ort, session, provider, requested, fallbacks, sha256);
      } catch (err) {
        const why = reason(err);
        // A model that does not parse fails on every provider: say so once, clearly.
        if (/protobuf parsing failed|Load model .* failed|invalid model|ModelProto|graph/i.test(why)) {
          throw new ModelError('E_MODEL_INVALID', `model (${bytes.length} bytes, sha256 ${sha256.slice(0, 12)}...) is not a valid ONNX model: ${why}`, { cause: err });
        }
        fallbacks.push({ provider, reason: why });
      }
    }
    throw new ModelError('E_MODEL_PROVIDER', `no execution provider could run the model: ${fallbacks.map((f) => `${f.provider}: ${f.reason}`).join('; ')}`);
  }
}
