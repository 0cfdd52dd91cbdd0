import type { BackendRecipe, InferenceBackend, LoadOptions, LoadedModel } from '../../models/engine/engine.js';
import { ModelError } from '../../models/engine/errors.js';
import type { BackendPlugin } from './backend-plugin.js';

/**
 * The gateway's one inference backend, built by its plug-in when something first needs it (a
 * stage loading a model, the hardware probe, the updater): a gateway that only moves sensor
 * records never imports a backend's runtime. Every stage, the updater and the health report
 * share this one instance, so a backend's probe runs once and a device (an NPU) is opened once.
 *
 * A backend that cannot be built (its driver is missing, say) stays failed: each load then
 * rejects with E_MODEL_PROVIDER saying why, which the stage reports as its health; the
 * gateway goes on serving everything else.
 */
export class LazyBackend implements InferenceBackend {
  private instance: Promise<InferenceBackend> | undefined;

  constructor(
    private readonly plugin: BackendPlugin,
    /** The `inference` section, as the plug-in's `validate` returned it. */
    private readonly config: unknown,
  ) {}

  get name(): string {
    return this.plugin.name;
  }

  private backend(): Promise<InferenceBackend> {
    this.instance ??= (async () => {
      try {
        return await this.plugin.create(this.config);
      } catch (err) {
        throw new ModelError('E_MODEL_PROVIDER', `inference backend ${this.plugin.name} could not start: ${(err as Error).message}`, { cause: err });
      }
    })();
    return this.instance;
  }

  async availableProviders(): Promise<readonly string[]> {
    return (await this.backend()).availableProviders();
  }

  async load(bytes: Uint8Array, options?: LoadOptions): Promise<LoadedModel> {
    return (await this.backend()).load(bytes, options);
  }

  /** The plug-in and section a worker thread builds the same backend from, if the plug-in allows it. */
  recipe(): BackendRecipe | { readonly unavailable: string } {
    const w = this.plugin.worker;
    if (w === undefined) return { unavailable: `the ${this.plugin.name} backend's plug-in names no module a worker thread could build it from` };
    if ('mainThreadOnly' in w) return { unavailable: `the ${this.plugin.name} backend runs on the gateway's thread only: ${w.mainThreadOnly}` };
    return { name: this.plugin.name, module: w.module, config: this.config };
  }

  /** Closes the backend if it was ever built; a second call does nothing. */
  async close(): Promise<void> {
    const instance = this.instance;
    if (instance === undefined) return;
    this.instance = Promise.reject(new ModelError('E_MODEL_CLOSED', `inference backend ${this.plugin.name} used after the gateway stopped`));
    this.instance.catch(() => undefined);
    const backend = await instance.catch(() => undefined);
    await backend?.close?.();
  }
}
