import { schema, type Infer, type JsonSchema } from 'tjs';
import type { ShadowEvaluation } from '../../fleet/protocol/update.js';
import type { InferenceBackend } from '../../models/engine/engine.js';
import { ConfigError } from '../errors.js';
import type { LearningHost } from '../federated/learner.js';
import type { ComponentEvents } from '../health/events.js';
import type { BackendPlugin } from '../inference/backend-plugin.js';
import type { DecisionSink, Source, Stage } from './components.js';

/** What a plug-in's factory gets besides its own config. */
export interface CreateEnv {
  readonly gatewayId: string;
  readonly events: ComponentEvents;
  /** A directory of its own for files that must outlive a restart (a trained model, say). */
  readonly stateDir: string;
  /** Where alerts and model decisions are recorded for audit. */
  readonly decisions: DecisionSink;
  /** Models installed by the signed-update path (their active release, and a call when it changes). */
  readonly models?: ManagedModelSource;
  /**
   * The gateway's one inference backend, the one its `inference` section names: every model a
   * stage runs is loaded through it (a stage's own `providers` and `threads` go in its `load`
   * options). Built on first use, so holding it costs nothing.
   */
  readonly backend: InferenceBackend;
  /**
   * Federated learning, when the gateway's `learning` section enables it: a stage that can
   * train its managed model on data it keeps registers a LocalLearner here at creation.
   */
  readonly learning?: LearningHost;
}

/** The part of the updater's managed models that plug-ins use. */
export interface ManagedModelSource {
  load(model: string): Promise<{ readonly bytes: Uint8Array; readonly ref: { readonly name: string; readonly version: string; readonly hash: string }; readonly release: number } | undefined>;
  subscribe(model: string, onChange: () => void): () => void;
  /** Each inference of a managed model: its outcome and time, for the release's probation. */
  recordRun(model: string, ok: boolean, ms: number): void;
  /**
   * A candidate release to run in shadow: `onShadow(candidate)` when one starts (the stage
   * loads it and runs it on the same inputs as the active model, acting on nothing it says,
   * and reports each comparison to `candidate.sink`), `onShadow(undefined)` when it ends (the
   * stage closes the candidate). Returns the unsubscribe call.
   */
  subscribeShadow(model: string, onShadow: (candidate: ShadowCandidate | undefined) => void): () => void;
}

/** A model release that is installed nowhere yet: it only runs beside the active one, to be compared. */
export interface ShadowCandidate {
  readonly bytes: Uint8Array;
  readonly ref: { readonly name: string; readonly version: string; readonly hash: string };
  readonly release: number;
  readonly sink: ShadowSink;
  /** The release's labelled evaluation set (signed, verified), when it carries one: the stage scores it with both models and reports `sink.evaluation`. */
  readonly evaluation?: Uint8Array;
}

/**
 * Where a stage reports how the candidate compared. The candidate's trouble never reaches the
 * active path: a run that throws is `run(false, ms)` and nothing else.
 */
export interface ShadowSink {
  /** One run of the candidate on an input the active model also saw: did it answer, and in how long. */
  run(ok: boolean, ms: number): void;
  /**
   * Anomaly: one scored window (or point) both models scored: each one's score, and whether
   * each one's own alert policy (same settings, fed only that model's scores) is alerting after it.
   */
  anomaly(active: { readonly score: number; readonly alerting: boolean }, candidate: { readonly score: number; readonly alerting: boolean }): void;
  /**
   * Vision: one frame both models saw: how many detections each made, how many of the
   * candidate's matched one of the active model's one-to-one at IoU >= 0.5 (any class), and of
   * those how many have the same class.
   */
  vision(frame: { readonly active: number; readonly candidate: number; readonly matched: number; readonly sameClass: number }): void;
  /** How both models did on the candidate's labelled evaluation set (once per stage that scored it). */
  evaluation(result: ShadowEvaluation): void;
}

export type PluginKind = 'source' | 'stage';

/**
 * What travels on a pipeline edge. `samples`: telemetry with `data.values` per channel (what
 * sensors emit and detectors read); `summaries`: telemetry summarised per window (no raw
 * values); `frames`: decoded pictures, never storable; `events`: results and alerts.
 */
export const RECORD_KINDS = ['samples', 'summaries', 'frames', 'events'] as const;
export type RecordKind = (typeof RECORD_KINDS)[number];

/** What a stage does with each kind: works on `accepts` (and then emits `emits`), lets `passes` through untouched. */
export interface StageFlow {
  readonly accepts: readonly RecordKind[];
  readonly emits: readonly RecordKind[];
  readonly passes: readonly RecordKind[];
}

/** The kinds the store (the end of every pipeline) takes. */
export const STORE_ACCEPTS: readonly RecordKind[] = ['samples', 'summaries', 'events'];

/** A problem a plug-in finds in its own (schema-valid) entry; `path` is relative to the entry. */
export interface PluginProblem {
  readonly path: readonly (string | number)[];
  readonly expected: string;
  readonly got: string;
}

/** What a plug-in's check sees of the rest of the config. */
export interface CheckContext {
  /** The `updates` section: signed model releases (null when the config has none). */
  readonly updates: { readonly models: readonly string[] } | null;
}

/** A file an entry needs at start; `key` (relative to the entry) is where the config names it. */
export interface FileNeed {
  readonly key: readonly (string | number)[];
  /** An absolute path (relative paths in entries are resolved before `files` is called). */
  readonly file: string;
  /** For messages: `an ONNX model`, `an H.264 file`. */
  readonly what: string;
  /**
   * What the file's contents must be, checked from its bytes once it is readable (at `--check`
   * and before every start, like the rest): a model whose outputs no decoder reads, say.
   * Problems' paths are relative to the entry. Must not throw; must not run anything.
   */
  readonly inspect?: (bytes: Uint8Array) => Promise<readonly PluginProblem[]>;
}

export type SchemaErrors = readonly { instancePath: string; keyword: string; params?: object; message?: string }[];

interface PluginShape<K extends PluginKind, T> {
  readonly kind: K;
  /** The `type` value that selects this plug-in in the config. */
  readonly type: string;
  /** JSON Schema of the plug-in's config entry (including `type`); unknown keys must be refused. */
  readonly configSchema: JsonSchema;
  /** Validates one config entry: the typed value on success, tjs errors otherwise. */
  readonly validate: (value: unknown) => { value: unknown; error?: undefined } | { value?: undefined; error: SchemaErrors };
  /**
   * Cross-field rules the schema cannot say (min <= max, keys that exclude each other). Pure:
   * runs at `--check` and before every start, on a value `validate` returned.
   */
  readonly check: (config: unknown, ctx: CheckContext) => readonly PluginProblem[];
  /** Keys (paths inside the entry) whose string values are file paths: relative ones are resolved against the config file's directory. */
  readonly pathKeys: readonly (readonly string[])[];
  /** Keys (paths inside the entry) whose values are provider preference lists: `--check` refuses a name the chosen inference backend does not know. */
  readonly providerKeys: readonly (readonly string[])[];
  /** Files the entry needs at start (read at `--check` and before every start). */
  readonly files: (config: unknown) => readonly FileNeed[];
  /**
   * Builds the component. `config` is always a value `validate` returned (the registry's
   * callers guarantee it), which is what makes the cast inside `define*` sound.
   */
  readonly create: (config: unknown, env: CreateEnv) => T | Promise<T>;
}

export type SourcePlugin = PluginShape<'source', Source> & {
  /** What the source puts on its first edge. */
  readonly emits: readonly RecordKind[];
  /**
   * Why the value `name` of this source (of its part `scope`, as `Source.writeValue` takes it)
   * cannot be written, or undefined when it can: `--check` asks it for each Sparkplug metric
   * with `write: true`. Absent: the source takes no writes.
   */
  readonly writable?: (config: unknown, name: string, scope: string | undefined) => string | undefined;
  /**
   * The streams the source's records go to, when it has several (a Modbus slave's groups, OPC
   * UA subscriptions): `--check` refuses a Sparkplug source `<id>.<part>` that none of them is
   * or starts with. Absent: not checked.
   */
  readonly streams?: (config: unknown) => readonly string[];
};
export type StagePlugin = PluginShape<'stage', Stage> & { readonly flow: StageFlow };
export type AnyPlugin = SourcePlugin | StagePlugin;

/**
 * Compiled on first use: a gateway validates only the plug-ins its config names, and each
 * compiled validator is generated code that stays resident (memory bench, README).
 */
export function validatorFor<const S extends JsonSchema>(configSchema: S): PluginShape<PluginKind, unknown>['validate'] {
  let v: ReturnType<typeof schema<S>> | undefined;
  return (value: unknown) => {
    v ??= schema(configSchema);
    const result = v.validate(value);
    return result.error === undefined ? { value: result.value } : { error: result.error };
  };
}

/** The parts of a plug-in definition that both kinds share; config types are inferred from the schema. */
interface PluginDef<S extends JsonSchema, T> {
  type: string;
  configSchema: S;
  check?: (config: Infer<S>, ctx: CheckContext) => readonly PluginProblem[];
  pathKeys?: readonly (readonly string[])[];
  providerKeys?: readonly (readonly string[])[];
  files?: (config: Infer<S>) => readonly FileNeed[];
  create: (config: Infer<S>, env: CreateEnv) => T | Promise<T>;
}

function common<const S extends JsonSchema, T>(def: PluginDef<S, T>): Omit<PluginShape<PluginKind, T>, 'kind'> {
  return {
    type: def.type,
    configSchema: def.configSchema,
    validate: validatorFor(def.configSchema),
    check: (config, ctx) => def.check?.(config as Infer<S>, ctx) ?? [],
    pathKeys: def.pathKeys ?? [],
    providerKeys: def.providerKeys ?? [],
    files: (config) => def.files?.(config as Infer<S>) ?? [],
    create: (config, env) => def.create(config as Infer<S>, env),
  };
}

/** Declares a source plug-in; its config type is inferred from its schema. */
export function defineSource<const S extends JsonSchema>(
  def: PluginDef<S, Source> & {
    emits: readonly RecordKind[];
    writable?: (config: Infer<S>, name: string, scope: string | undefined) => string | undefined;
    streams?: (config: Infer<S>) => readonly string[];
  },
): SourcePlugin {
  const { writable, streams } = def;
  return {
    kind: 'source',
    ...common(def),
    emits: def.emits,
    ...(writable === undefined ? {} : { writable: (config: unknown, name: string, scope: string | undefined) => writable(config as Infer<S>, name, scope) }),
    ...(streams === undefined ? {} : { streams: (config: unknown) => streams(config as Infer<S>) }),
  };
}

/** Declares a stage plug-in; its config type is inferred from its schema. */
export function defineStage<const S extends JsonSchema>(def: PluginDef<S, Stage> & { flow: StageFlow }): StagePlugin {
  return { kind: 'stage', ...common(def), flow: def.flow };
}

/**
 * Builds a component. A plug-in that refuses at start although its entry passed the check is
 * reported as a config problem naming the entry (`pipelines[0].stages[1] (anomaly): ...`):
 * exit code 2 and one line, not a crash with a stack trace.
 */
export async function createPlugin<T>(plugin: PluginShape<PluginKind, T>, where: string, config: unknown, env: CreateEnv): Promise<T> {
  try {
    return await plugin.create(config, env);
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    const reason = err instanceof Error ? err.message : String(err);
    const code = (err as { code?: unknown } | null)?.code;
    throw new ConfigError('config', [`${where} (${plugin.kind} ${plugin.type}): ${reason}${typeof code === 'string' && !reason.includes(code) ? ` (${code})` : ''}`]);
  }
}

/** Maps a config `type` to its plug-in, per kind, and `inference.backend` to its backend. Nothing else knows the lists. */
export class PluginRegistry {
  private readonly byKind: Record<PluginKind, Map<string, AnyPlugin>> = { source: new Map(), stage: new Map() };
  private readonly backends = new Map<string, BackendPlugin>();

  register(plugin: AnyPlugin | BackendPlugin): this {
    if (plugin.kind === 'backend') {
      if (this.backends.has(plugin.name)) throw new Error(`inference backend "${plugin.name}" is registered twice`);
      this.backends.set(plugin.name, plugin);
      return this;
    }
    const map = this.byKind[plugin.kind];
    if (map.has(plugin.type)) throw new Error(`plug-in ${plugin.kind} "${plugin.type}" is registered twice`);
    map.set(plugin.type, plugin);
    return this;
  }

  backend(name: string): BackendPlugin | undefined {
    return this.backends.get(name);
  }

  source(type: string): SourcePlugin | undefined {
    const p = this.byKind.source.get(type);
    return p?.kind === 'source' ? p : undefined;
  }

  stage(type: string): StagePlugin | undefined {
    const p = this.byKind.stage.get(type);
    return p?.kind === 'stage' ? p : undefined;
  }

  types(kind: PluginKind | 'backend'): string[] {
    return [...(kind === 'backend' ? this.backends : this.byKind[kind]).keys()].sort();
  }
}
