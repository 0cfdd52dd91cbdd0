/**
 * The one interface every inference backend implements: ONNX Runtime today; an NPU hat's
 * own runtime (Hailo, RKNN...) is another implementation of the same two types.
 */
export interface TensorSpec {
  readonly name: string;
  /** Element type as the backend names it: 'float32', 'int64'... */
  readonly type: string;
  /** Dimensions; a string is a symbolic (dynamic) one like 'batch'. */
  readonly shape: readonly (number | string)[];
}

export interface Tensor {
  readonly data: Float32Array;
  readonly dims: readonly number[];
}

export interface RunStats {
  readonly runs: number;
  readonly lastMs: number;
  readonly meanMs: number;
  readonly maxMs: number;
}

export interface LoadedModel {
  /** The execution provider the model runs on. */
  readonly provider: string;
  /** The preference list it was loaded with. */
  readonly requested: readonly string[];
  /** True when it runs on a lesser provider than the first preference. */
  readonly degraded: boolean;
  /** Why each better provider was not used. */
  readonly fallbacks: readonly { provider: string; reason: string }[];
  /** sha256 (hex) of the model bytes it was loaded from. */
  readonly sha256: string;
  readonly inputs: readonly TensorSpec[];
  readonly outputs: readonly TensorSpec[];
  run(feeds: Readonly<Record<string, Tensor>>): Promise<Record<string, Tensor>>;
  stats(): RunStats;
  close(): Promise<void>;
}

export interface InferenceBackend {
  readonly name: string;
  /** Providers this installation can really use (probed, not merely compiled in). */
  availableProviders(): Promise<readonly string[]>;
  /**
   * Loads a model from bytes already verified against signed metadata. Never from a path:
   * a file could be swapped between the check and the load.
   */
  load(bytes: Uint8Array, providers: readonly string[]): Promise<LoadedModel>;
}
