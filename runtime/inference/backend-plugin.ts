import type { Infer, JsonSchema } from 'tjs';
import type { InferenceBackend } from '../../models/engine/engine.js';
import { validatorFor, type PluginProblem, type SchemaErrors } from '../pipeline/registry.js';

/**
 * An inference backend as a plug-in (Frigate's detector plug-ins): the gateway config's
 * `inference` section names it by `backend` and holds its settings, which its own schema
 * checks. The gateway builds one per process, on first use, and hands it to every stage
 * through the plug-in environment (`CreateEnv.backend`), so a stage never knows which one runs
 * its models.
 */
export interface BackendPlugin {
  readonly kind: 'backend';
  /** The `inference.backend` value that selects it. */
  readonly name: string;
  /**
   * Every provider name the backend understands, whether or not this box has one: `--check`
   * refuses any other name in `inference.providers` and in a stage's `providers`. What this
   * box really has is `availableProviders()`, found at run time.
   */
  readonly providers: readonly string[];
  /** JSON Schema of the whole `inference` section (with `backend`); unknown keys must be refused. */
  readonly configSchema: JsonSchema;
  readonly validate: (value: unknown) => { value: unknown; error?: undefined } | { value?: undefined; error: SchemaErrors };
  /** Cross-field rules of the section the schema cannot say. Pure: runs at `--check` and before every start. */
  readonly check: (config: unknown) => readonly PluginProblem[];
  /**
   * Builds the backend from a value `validate` returned. Called once per gateway, when the
   * backend is first used: a backend imports its runtime (a native library) here, not when
   * its module loads, so a gateway that runs no model never maps it.
   */
  readonly create: (config: unknown) => InferenceBackend | Promise<InferenceBackend>;
  /** Whether a worker thread can build this backend too, and how (BackendWorker); undefined: it cannot. */
  readonly worker?: BackendWorker | undefined;
}

/**
 * A backend a worker thread may build as well (the vision stage runs its models in one):
 * `module` is the URL of the module that exports the plug-in (its `import.meta.url`), which the
 * worker imports to find the plug-in by name and `create` its own instance from the same
 * section. `mainThreadOnly` says why it may not (a device one process opens once, a runtime
 * that is not thread-safe); the stages then run their models on the gateway's thread.
 */
export type BackendWorker = { readonly module: string } | { readonly mainThreadOnly: string };

/** The JSON Schema of a provider preference list of a backend that knows `names`. */
export function providerListSchema<const P extends readonly string[]>(names: P) {
  return { type: 'array', items: { enum: names }, minItems: 1, maxItems: 8, uniqueItems: true } as const;
}

/** Whether a module's export is a backend plug-in (what a worker looks for in the module it imports). */
export function isBackendPlugin(value: unknown): value is BackendPlugin {
  return typeof value === 'object' && value !== null && (value as { kind?: unknown }).kind === 'backend' && typeof (value as { create?: unknown }).create === 'function';
}

/** Declares a backend plug-in; its section's type is inferred from its schema. */
export function defineBackend<const S extends JsonSchema>(def: {
  name: string;
  providers: readonly string[];
  configSchema: S;
  check?: (config: Infer<S>) => readonly PluginProblem[];
  create: (config: Infer<S>) => InferenceBackend | Promise<InferenceBackend>;
  worker?: BackendWorker;
}): BackendPlugin {
  return {
    kind: 'backend',
    name: def.name,
    providers: def.providers,
    configSchema: def.configSchema,
    validate: validatorFor(def.configSchema),
    check: (config) => def.check?.(config as Infer<S>) ?? [],
    // Sound for the same reason as a stage's: callers pass only values `validate` returned.
    create: (config) => def.create(config as Infer<S>),
    worker: def.worker,
  };
}
