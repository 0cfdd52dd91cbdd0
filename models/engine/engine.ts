/**
 * The one interface every inference backend implements: ONNX Runtime today; an NPU hat's
 * own runtime (Hailo, RKNN...) is another implementation of the same two types, in its own
 * folder under backends/ (README.md, "Adding a backend").
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

/**
 * What one stage asks of a load, over the backend's own settings (the gateway's `inference`
 * section). Each setting left out is the backend's.
 */
export interface LoadOptions {
  /** Providers in order of preference (a stage's `providers`); empty or absent: the backend's list. */
  readonly providers?: readonly string[];
  /** Threads one inference may use (a stage's `threads`); a backend without a thread pool of its own ignores it. */
  readonly threads?: number;
}

/**
 * How another thread of the process builds the same backend: a runtime's sessions and device
 * handles cannot cross threads, so a worker (the vision stage's inference thread) builds its own
 * from the same plug-in and the same `inference` section. Plain data: it goes to the worker by
 * structured clone.
 */
export interface BackendRecipe {
  /** The plug-in's name (`inference.backend`). */
  readonly name: string;
  /** URL of the module that exports the plug-in, for the worker to import. */
  readonly module: string;
  /** The `inference` section as the plug-in's `validate` returned it. */
  readonly config: unknown;
}

export interface InferenceBackend {
  /** The name the config chooses it by (`inference.backend`). */
  readonly name: string;
  /** Providers this installation can really use (probed, not merely compiled in). */
  availableProviders(): Promise<readonly string[]>;
  /**
   * Loads a model from bytes already verified against signed metadata. Never from a path:
   * a file could be swapped between the check and the load. Providers are tried in order;
   * a model on a lesser one than the first is `degraded`, with the reason of each it skipped.
   */
  load(bytes: Uint8Array, options?: LoadOptions): Promise<LoadedModel>;
  /**
   * Releases what the backend holds beyond its models (a device handle, a driver context).
   * Called once, when the gateway stops, after every stage has stopped.
   */
  close?(): Promise<void>;
  /**
   * How a worker thread builds the same backend (BackendRecipe), or why it cannot (the
   * plug-in is for the gateway's thread only, say). Absent: it cannot; models of stages that
   * would run them in a worker run on the gateway's thread.
   */
  recipe?(): BackendRecipe | { readonly unavailable: string };
}
