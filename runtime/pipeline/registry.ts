import { schema, type Infer, type JsonSchema } from 'tjs';
import type { ShadowEvaluation } from '../../fleet/protocol/update.js';
import type { ComponentEvents } from '../health/events.js';
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

type SchemaErrors = readonly { instancePath: string; keyword: string; params?: object; message?: string }[];

interface PluginShape<K extends PluginKind, T> {
  readonly kind: K;
  /** The `type` value that selects this plug-in in the config. */
  readonly type: string;
  /** JSON Schema of the plug-in's config entry (including `type`); unknown keys must be refused. */
  readonly configSchema: JsonSchema;
  /** Validates one config entry: the typed value on success, tjs errors otherwise. */
  readonly validate: (value: unknown) => { value: unknown; error?: undefined } | { value?: undefined; error: SchemaErrors };
  /**
   * Builds the component. `config` is always a value `validate` returned (the registry's
   * callers guarantee it), which is what makes the cast inside `define*` sound.
   */
  readonly create: (config: unknown, env: CreateEnv) => T | Promise<T>;
}

export type SourcePlugin = PluginShape<'source', Source>;
export type StagePlugin = PluginShape<'stage', Stage>;
export type AnyPlugin = SourcePlugin | StagePlugin;

function validatorFor<const S extends JsonSchema>(configSchema: S): PluginShape<PluginKind, unknown>['validate'] {
  const v = schema(configSchema);
  return (value: unknown) => {
    const result = v.validate(value);
    return result.error === undefined ? { value: result.value } : { error: result.error };
  };
}

/** Declares a source plug-in; its config type is inferred from its schema. */
export function defineSource<const S extends JsonSchema>(def: {
  type: string;
  configSchema: S;
  create: (config: Infer<S>, env: CreateEnv) => Source | Promise<Source>;
}): SourcePlugin {
  return { kind: 'source', type: def.type, configSchema: def.configSchema, validate: validatorFor(def.configSchema), create: (config, env) => def.create(config as Infer<S>, env) };
}

/** Declares a stage plug-in; its config type is inferred from its schema. */
export function defineStage<const S extends JsonSchema>(def: {
  type: string;
  configSchema: S;
  create: (config: Infer<S>, env: CreateEnv) => Stage | Promise<Stage>;
}): StagePlugin {
  return { kind: 'stage', type: def.type, configSchema: def.configSchema, validate: validatorFor(def.configSchema), create: (config, env) => def.create(config as Infer<S>, env) };
}

/** Maps a config `type` to its plug-in, per kind. Nothing else knows the list. */
export class PluginRegistry {
  private readonly byKind: Record<PluginKind, Map<string, AnyPlugin>> = { source: new Map(), stage: new Map() };

  register(plugin: AnyPlugin): this {
    const map = this.byKind[plugin.kind];
    if (map.has(plugin.type)) throw new Error(`plug-in ${plugin.kind} "${plugin.type}" is registered twice`);
    map.set(plugin.type, plugin);
    return this;
  }

  source(type: string): SourcePlugin | undefined {
    const p = this.byKind.source.get(type);
    return p?.kind === 'source' ? p : undefined;
  }

  stage(type: string): StagePlugin | undefined {
    const p = this.byKind.stage.get(type);
    return p?.kind === 'stage' ? p : undefined;
  }

  types(kind: PluginKind): string[] {
    return [...this.byKind[kind].keys()].sort();
  }
}
