import { isAbsolute, resolve } from 'node:path';
import type { JsonSchema } from 'tjs';
import { describeValue, formatPath, type SchemaProblem } from '../../fleet/protocol/schema-problems.js';
import type { BackendPlugin } from '../inference/backend-plugin.js';
import type { QueueOptions } from '../pipeline/bounded-queue.js';
import { edgeProblems } from '../pipeline/edge-types.js';
import type { AnyPlugin, CheckContext, PluginRegistry, RecordKind, SourcePlugin, StageFlow } from '../pipeline/registry.js';
import { defaults } from './defaults.js';
import type { FileRef } from './file-check.js';
import type { DeviceEntry, GatewayConfig, PipelineEntry, StageEntry } from './load.js';
import { schemaProblems, unknownKey } from './schema-walk.js';
import { checkSparkplug, deviceOfSource, sparkplugSchema, sparkplugSettings, type SparkplugSection, type SparkplugSettings } from '../uplink/sparkplug/schema.js';
import {
  SECTIONS,
  devicesSchema,
  gatewaySchema,
  healthSchema,
  inferenceSchema,
  logSchema,
  modelsSchema,
  pipelinesSchema,
  queueSchema,
  storeSchema,
  updatesSchema,
  learningSchema,
  serviceSchema,
  type LearningSection,
  type ServiceSection,
  uplinkSchema,
  type GatewaySection,
  type HealthSection,
  type LogSection,
  type PipelineSection,
  type QueueSection,
  type StoreSection,
  type UpdatesSection,
  type UplinkSection,
} from './schema.js';

/**
 * The config's rules, section by section, collecting every problem (one never hides
 * another): each section's schema, the cross-field rules of the core and of each plug-in, the
 * types of the pipeline edges. Pure: files are only listed (`files`) for the loader to check.
 */

export type Path = readonly (string | number)[];
export interface Problem {
  readonly path: Path;
  readonly text: string;
}

export interface Validation {
  readonly problems: Problem[];
  /** Files and directories the config names, resolved: the loader checks them. */
  readonly files: FileRef[];
  /** The config, when there are no problems. */
  readonly config?: GatewayConfig;
}

const REQUIRED_SECTIONS = ['gateway', 'uplink'] as const;
const UPLINK_FILES = { passwordFile: 'a password file', ca: 'a PEM CA certificate', cert: 'a PEM client certificate', key: 'a PEM private key' } as const;
/** The files the `sparkplug` section names, by their key path in it. */
const SPARKPLUG_FILES: readonly { readonly key: readonly string[]; readonly what: string }[] = [
  { key: ['passwordFile'], what: 'a password file' },
  { key: ['tls', 'ca'], what: 'a PEM CA certificate' },
  { key: ['tls', 'cert'], what: 'a PEM client certificate' },
  { key: ['tls', 'key'], what: 'a PEM private key' },
];

function problemOf(p: SchemaProblem): Problem {
  return { path: p.path, text: `${formatPath(p.path)}: expected ${p.expected}, got ${p.got}` };
}

function simple(path: Path, expected: string, got: string): Problem {
  return problemOf({ path, expected, got });
}

function isMapping(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** Validates `value` against a section schema; true when it has no problems. */
function check(jsonSchema: JsonSchema, value: unknown, base: Path, problems: Problem[]): boolean {
  const found = schemaProblems(jsonSchema, value, base);
  for (const p of found) problems.push(problemOf(p));
  return found.length === 0;
}

function resolveQueue(q: QueueSection | undefined, fallback: QueueOptions): QueueOptions {
  return {
    maxRecords: q?.maxRecords ?? fallback.maxRecords,
    whenFull: q?.whenFull ?? fallback.whenFull,
    sampleEvery: q?.sampleEvery ?? fallback.sampleEvery,
  };
}

/** Relative paths in the config are relative to the config file's directory, not to the working directory (systemd runs in /). */
function resolver(baseDir: string): (p: string) => string {
  return (p) => (isAbsolute(p) ? p : resolve(baseDir, p));
}

function checkUrl(url: string, problems: Problem[]): boolean {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    problems.push(simple(['uplink', 'url'], 'a broker URL like mqtt://host:1883 or mqtts://host:8883', describeValue(url)));
    return false;
  }
  if (parsed.protocol !== 'mqtt:' && parsed.protocol !== 'mqtts:') {
    problems.push(simple(['uplink', 'url'], 'a URL with scheme mqtt:// or mqtts://', describeValue(url)));
    return false;
  }
  if (parsed.hostname === '') {
    problems.push(simple(['uplink', 'url'], 'a URL with a host name', describeValue(url)));
    return false;
  }
  if (parsed.pathname !== '' && parsed.pathname !== '/') {
    problems.push(simple(['uplink', 'url'], 'a URL without a path (MQTT over TCP has none)', describeValue(url)));
    return false;
  }
  return true;
}

function checkUplink(u: UplinkSection, problems: Problem[]): boolean {
  const before = problems.length;
  if (checkUrl(u.url, problems)) {
    const tls = new URL(u.url).protocol === 'mqtts:';
    for (const key of ['ca', 'cert', 'key'] as const) {
      if (u[key] !== undefined && !tls) problems.push(simple(['uplink', key], 'an mqtts:// url when TLS files are given', `url ${JSON.stringify(u.url)}`));
    }
  }
  if (u.password !== undefined && u.passwordFile !== undefined) problems.push(simple(['uplink', 'passwordFile'], 'either password or passwordFile, not both', 'both'));
  if ((u.password !== undefined || u.passwordFile !== undefined) && u.username === undefined) {
    problems.push(simple(['uplink', 'username'], 'a username when a password is given (MQTT sends no password without one)', 'nothing'));
  }
  if ((u.cert === undefined) !== (u.key === undefined)) {
    problems.push(simple(['uplink', u.cert === undefined ? 'cert' : 'key'], 'cert and key together (a client certificate needs its key)', 'nothing'));
  }
  const r = u.reconnect;
  if (r?.minDelayMs !== undefined && r.maxDelayMs !== undefined && r.minDelayMs > r.maxDelayMs) {
    problems.push(simple(['uplink', 'reconnect', 'maxDelayMs'], `a number >= minDelayMs (${r.minDelayMs})`, String(r.maxDelayMs)));
  }
  return problems.length === before;
}

function splitHostPort(listen: string): { host: string; port: number } {
  const i = listen.lastIndexOf(':');
  return { host: listen.slice(0, i), port: Number(listen.slice(i + 1)) };
}

function checkListen(h: HealthSection, problems: Problem[]): boolean {
  if (h.listen === undefined) return true;
  const { port } = splitHostPort(h.listen);
  if (port > 65_535) {
    problems.push(simple(['health', 'listen'], 'host:port with a port from 0 (any free port) to 65535', describeValue(h.listen)));
    return false;
  }
  return true;
}

/** A copy of `value` with the string at each of `keys` resolved as a path. */
function withResolvedPaths(value: unknown, keys: readonly (readonly string[])[], resolvePath: (p: string) => string): unknown {
  if (keys.length === 0) return value;
  const copy = structuredClone(value) as Record<string, unknown>;
  for (const key of keys) {
    let at: unknown = copy;
    for (const seg of key.slice(0, -1)) at = isMapping(at) ? at[seg] : undefined;
    const last = key[key.length - 1] as string;
    if (isMapping(at) && typeof at[last] === 'string') at[last] = resolvePath(at[last]);
  }
  return copy;
}

interface Ctx {
  readonly registry: PluginRegistry;
  readonly problems: Problem[];
  readonly files: FileRef[];
  readonly resolvePath: (p: string) => string;
  readonly checkContext: CheckContext;
  /** The backend the `inference` section chose (undefined when that section has a problem of its own). */
  readonly backend: BackendPlugin | undefined;
}

/**
 * The `inference` section: a backend the registry knows (default: defaults.inference.backend),
 * then the rest of the section by that backend's own schema and rules.
 */
function validateInference(value: unknown, registry: PluginRegistry, problems: Problem[]): { plugin?: BackendPlugin; config?: unknown } {
  const section = value ?? {};
  if (!check(inferenceSchema, section, ['inference'], problems) || !isMapping(section)) return {};
  const name = typeof section['backend'] === 'string' ? section['backend'] : defaults.inference.backend;
  const plugin = registry.backend(name);
  if (plugin === undefined) {
    problems.push(simple(['inference', 'backend'], `an inference backend: one of ${registry.types('backend').map((t) => JSON.stringify(t)).join(', ')}`, describeValue(name)));
    return {};
  }
  const entry = { ...section, backend: name };
  if (!check(plugin.configSchema, entry, ['inference'], problems)) return { plugin };
  const result = plugin.validate(entry);
  if (result.error !== undefined) {
    problems.push(simple(['inference'], 'a valid inference section', result.error[0]?.message ?? 'an error'));
    return { plugin };
  }
  const own = plugin.check(result.value);
  for (const p of own) problems.push(problemOf({ ...p, path: ['inference', ...p.path] }));
  return own.length === 0 ? { plugin, config: result.value } : { plugin };
}

/** Each name in a provider list (at `path`) must be one the chosen backend knows: a typo would otherwise only show as a degraded model at run time. */
function checkProviders(list: unknown, path: Path, ctx: Pick<Ctx, 'backend' | 'problems'>): boolean {
  const backend = ctx.backend;
  if (backend === undefined || !Array.isArray(list)) return true;
  let ok = true;
  list.forEach((name, i) => {
    if (typeof name !== 'string' || backend.providers.includes(name)) return;
    ctx.problems.push(simple([...path, i], `a provider the ${backend.name} inference backend knows (one of ${backend.providers.map((p) => JSON.stringify(p)).join(', ')})`, describeValue(name)));
    ok = false;
  });
  return ok;
}

/** The value at `key` inside `value`, if every step is a mapping. */
function valueAt(value: unknown, key: readonly string[]): unknown {
  let at: unknown = value;
  for (const seg of key) at = isMapping(at) ? at[seg] : undefined;
  return at;
}

/** Schema, paths, cross-field rules and files of one plug-in entry; the typed value when it has no problems. */
function validateEntry(plugin: AnyPlugin, entry: unknown, path: Path, ctx: Ctx): { value: unknown } | undefined {
  if (!check(plugin.configSchema, entry, path, ctx.problems)) return undefined;
  const result = plugin.validate(entry);
  if (result.error !== undefined) {
    // The walk found nothing, so tjs agrees; this is only a guard.
    ctx.problems.push(simple(path, 'a valid entry', result.error[0]?.message ?? 'an error'));
    return undefined;
  }
  const value = withResolvedPaths(result.value, plugin.pathKeys, ctx.resolvePath);
  const own = plugin.check(value, ctx.checkContext);
  for (const p of own) ctx.problems.push(problemOf({ ...p, path: [...path, ...p.path] }));
  const providersOk = plugin.providerKeys.map((key) => checkProviders(valueAt(value, key), [...path, ...key], ctx)).every(Boolean);
  for (const f of plugin.files(value)) {
    const inspect = f.inspect;
    ctx.files.push({
      path: [...path, ...f.key],
      file: f.file,
      kind: 'file',
      what: f.what,
      ...(inspect === undefined ? {} : { inspect: async (bytes: Uint8Array) => (await inspect(bytes)).map((p) => ({ ...p, path: [...path, ...p.path] })) }),
    });
  }
  return own.length === 0 && providersOk ? { value } : undefined;
}

interface DeviceInfo {
  readonly index: number;
  /** Known when the device's plug-in is. */
  readonly plugin?: { readonly type: string; readonly emits: readonly RecordKind[]; readonly writable?: SourcePlugin['writable']; readonly streams?: SourcePlugin['streams'] };
  /** The entry as its plug-in validated it, when it did. */
  config?: unknown;
}

/** Validates each device with its plug-in; `known` has every device with an id (whenever the list is a list). */
function validateDevices(value: unknown, ctx: Ctx): { entries?: DeviceEntry[]; known?: Map<string, DeviceInfo> } {
  if (!check(devicesSchema, value, ['devices'], ctx.problems) && !Array.isArray(value)) return {};
  const known = new Map<string, DeviceInfo>();
  const out: DeviceEntry[] = [];
  let ok = true;
  (value as unknown[]).forEach((entry, i) => {
    if (!isMapping(entry) || typeof entry['id'] !== 'string' || typeof entry['type'] !== 'string') {
      ok = false;
      return;
    }
    const id = entry['id'];
    const type = entry['type'];
    const first = known.get(id);
    if (first !== undefined) {
      ctx.problems.push(simple(['devices', i, 'id'], `an id not used by another device (devices[${first.index}] has it)`, describeValue(id)));
      ok = false;
    }
    const plugin = ctx.registry.source(type);
    if (first === undefined) known.set(id, { index: i, ...(plugin === undefined ? {} : { plugin: { type, emits: plugin.emits, ...(plugin.writable === undefined ? {} : { writable: plugin.writable }), ...(plugin.streams === undefined ? {} : { streams: plugin.streams }) } }) });
    if (plugin === undefined) {
      ctx.problems.push(simple(['devices', i, 'type'], `one of ${ctx.registry.types('source').map((t) => JSON.stringify(t)).join(', ')}`, describeValue(type)));
      ok = false;
      return;
    }
    const valid = validateEntry(plugin, entry, ['devices', i], ctx);
    if (valid === undefined) {
      ok = false;
      return;
    }
    out.push({ id, type, config: valid.value });
    const info = known.get(id);
    if (first === undefined && info !== undefined) info.config = valid.value;
  });
  return ok ? { entries: out, known } : { known };
}

function validatePipelines(value: unknown, devices: Map<string, DeviceInfo> | undefined, ctx: Ctx): PipelineEntry[] | undefined {
  const { registry, problems } = ctx;
  let ok = check(pipelinesSchema, value, ['pipelines'], problems);
  if (!Array.isArray(value)) return undefined;
  const out: PipelineEntry[] = [];
  const ids = new Map<string, number>();
  const usedSources = new Map<string, number>();
  const acceptedBy = (kind: RecordKind): string[] => registry.types('stage').filter((t) => registry.stage(t)?.flow.accepts.includes(kind) === true);
  (value as unknown[]).forEach((raw, i) => {
    if (!isMapping(raw)) return;
    const p = raw as Partial<PipelineSection> & Record<string, unknown>;
    if (typeof p.id === 'string') {
      if (ids.has(p.id)) {
        problems.push(simple(['pipelines', i, 'id'], `an id not used by another pipeline (pipelines[${String(ids.get(p.id))}] has it)`, describeValue(p.id)));
        ok = false;
      }
      ids.set(p.id, i);
    }
    const device = typeof p.source === 'string' ? devices?.get(p.source) : undefined;
    if (typeof p.source === 'string') {
      if (devices !== undefined && device === undefined) {
        const known = [...devices.keys()].map((d) => JSON.stringify(d)).join(', ');
        problems.push(simple(['pipelines', i, 'source'], known === '' ? 'the id of a device (no devices are configured)' : `the id of a device (${known})`, describeValue(p.source)));
        ok = false;
      }
      const earlier = usedSources.get(p.source);
      if (earlier !== undefined) {
        problems.push(simple(['pipelines', i, 'source'], `a device no other pipeline reads (pipelines[${earlier}] reads it)`, describeValue(p.source)));
        ok = false;
      }
      usedSources.set(p.source, i);
    }
    const pipelineQueue = resolveQueue(isMapping(p.queue) ? (p.queue as QueueSection) : undefined, defaults.queue);
    const stages: StageEntry[] = [];
    const typed: { type: string; flow: StageFlow; path: Path }[] = [];
    (Array.isArray(p.stages) ? (p.stages as unknown[]) : []).forEach((rawStage, j) => {
      if (!isMapping(rawStage) || typeof rawStage['type'] !== 'string') return;
      const { queue, ...rest } = rawStage;
      const path = ['pipelines', i, 'stages', j];
      let stageOk = queue === undefined || check(queueSchema, queue, [...path, 'queue'], problems);
      const plugin = registry.stage(rawStage['type']);
      if (plugin === undefined) {
        problems.push(simple([...path, 'type'], `one of ${registry.types('stage').map((t) => JSON.stringify(t)).join(', ')}`, describeValue(rawStage['type'])));
        ok = false;
        return;
      }
      typed.push({ type: plugin.type, flow: plugin.flow, path });
      const valid = validateEntry(plugin, rest, path, ctx);
      if (valid === undefined) stageOk = false;
      if (!stageOk || valid === undefined) {
        ok = false;
        return;
      }
      stages.push({ type: plugin.type, queue: resolveQueue(queue as QueueSection | undefined, pipelineQueue), config: valid.value });
    });
    if (device?.plugin !== undefined && typed.length === (Array.isArray(p.stages) ? p.stages.length : 0)) {
      const found = edgeProblems({ source: { id: p.source as string, ...device.plugin }, stages: typed, path: ['pipelines', i], acceptedBy });
      for (const e of found) problems.push(problemOf(e));
      if (found.length > 0) ok = false;
    }
    if (typeof p.id === 'string' && typeof p.source === 'string') out.push({ id: p.id, source: p.source, queue: pipelineQueue, stages, implicit: false });
  });
  if (devices !== undefined) {
    for (const [id, device] of devices) {
      if (usedSources.has(id)) continue;
      if (ids.has(id)) {
        problems.push(simple(['devices'], `device ${JSON.stringify(id)} to be read by a pipeline (a pipeline named like it reads another device)`, 'no pipeline'));
        ok = false;
        continue;
      }
      // A device no pipeline names goes straight to the store: that edge is typed too.
      const found = device.plugin === undefined ? [] : edgeProblems({ source: { id, ...device.plugin }, stages: [], path: ['devices', device.index], acceptedBy });
      for (const e of found) problems.push(problemOf(e));
      if (found.length > 0) ok = false;
      out.push({ id, source: id, queue: { ...defaults.queue }, stages: [], implicit: true });
    }
  }
  return ok ? out : undefined;
}

/**
 * The optional `sparkplug` section (runtime/uplink/sparkplug/schema.ts): its schema, its
 * cross-field rules with the configured device ids (when the device list could be read), TLS
 * files only with mqtts://, and the files it names. `{ settings: null }` when absent; undefined
 * when it has a problem.
 */
function validateSparkplug(value: unknown, devices: ReadonlyMap<string, DeviceInfo> | undefined, ctx: Ctx): { settings: SparkplugSettings | null } | undefined {
  if (value === undefined) return { settings: null };
  const { problems } = ctx;
  if (isMapping(value)) {
    for (const { key, what } of SPARKPLUG_FILES) {
      const v = valueAt(value, key);
      if (typeof v === 'string' && v !== '') ctx.files.push({ path: ['sparkplug', ...key], file: ctx.resolvePath(v), kind: 'file', what });
    }
  }
  if (!check(sparkplugSchema, value, ['sparkplug'], problems)) return undefined;
  const section = value as SparkplugSection;
  const own = checkSparkplug(section, devices === undefined ? undefined : new Set(devices.keys()));
  for (const p of own) problems.push(problemOf({ ...p, path: ['sparkplug', ...p.path] }));
  let ok = own.length === 0;
  // A metric a host may write must be a value its source can write (a Modbus point with write: true).
  if (ok && devices !== undefined) {
    section.sources.forEach((src, i) => {
      const of = deviceOfSource(src.id, devices.keys());
      const info = of === undefined ? undefined : devices.get(of.deviceId);
      // A part of a source must be a part its records go to, or the device would never get a record.
      const streams = of?.scope === undefined || info?.config === undefined ? undefined : info.plugin?.streams?.(info.config);
      if (streams !== undefined && !streams.some((st) => st === src.id || st.startsWith(`${src.id}.`))) {
        const shown = streams.length > 10 ? `${streams.slice(0, 10).join(', ')}, ...` : streams.join(', ');
        problems.push(simple(['sparkplug', 'sources', i, 'id'], `a source id or a prefix of its streams (${shown})`, `"${src.id}"`));
        ok = false;
        return;
      }
      src.metrics.forEach((m, j) => {
        if (m.write !== true || info?.config === undefined) return;
        const why = info.plugin?.writable === undefined ? `a ${info.plugin?.type ?? 'source'} source takes no writes (a modbus source does)` : info.plugin.writable(info.config, m.name, of?.scope);
        if (why === undefined) return;
        problems.push(simple(['sparkplug', 'sources', i, 'metrics', j, 'write'], `a value its source can write (${why})`, 'write: true'));
        ok = false;
      });
    });
  }
  if (!section.url.startsWith('mqtts://')) {
    for (const key of ['ca', 'cert', 'key'] as const) {
      if (section.tls?.[key] === undefined) continue;
      problems.push(simple(['sparkplug', 'tls', key], 'an mqtts:// url when TLS files are given', `url ${JSON.stringify(section.url)}`));
      ok = false;
    }
  }
  if (section.password !== undefined && section.username === undefined) {
    problems.push(simple(['sparkplug', 'password'], 'a username when a password is given (MQTT sends no password without one)', 'no username'));
    ok = false;
  }
  if (!ok) return undefined;
  const settings = sparkplugSettings(section);
  const file = (p: string | undefined): string | undefined => (p === undefined ? undefined : ctx.resolvePath(p));
  const tls = { ...settings.tls };
  for (const key of ['ca', 'cert', 'key'] as const) {
    const resolved = file(settings.tls[key]);
    if (resolved !== undefined) tls[key] = resolved;
  }
  return { settings: { ...settings, passwordFile: file(settings.passwordFile), tls } };
}

/** Validates a parsed config. Each problem is reported once (a device's id is judged by the list's schema and by its plug-in's). */
export function validateRoot(root: unknown, registry: PluginRegistry, baseDir: string): Validation {
  const result = validateSections(root, registry, baseDir);
  const seen = new Set<string>();
  const problems = result.problems.filter((p) => !seen.has(p.text) && seen.add(p.text) !== undefined);
  return { ...result, problems };
}

function validateSections(root: unknown, registry: PluginRegistry, baseDir: string): Validation {
  const problems: Problem[] = [];
  const files: FileRef[] = [];
  if (!isMapping(root)) {
    const got = root === null || root === undefined ? 'nothing (the file is empty)' : describeValue(root);
    problems.push(simple([], `a mapping with the sections ${SECTIONS.join(', ')}`, got));
    return { problems, files };
  }
  for (const key of Object.keys(root)) {
    if (!(SECTIONS as readonly string[]).includes(key)) {
      const p = unknownKey([key], key, SECTIONS);
      problems.push(simple([key], `one of the sections (${SECTIONS.join(', ')})`, p.got.replace(/^unknown key/, 'unknown section')));
    }
  }
  for (const key of REQUIRED_SECTIONS) {
    if (root[key] === undefined) problems.push(simple([key], 'a mapping (required section)', 'nothing'));
  }
  const resolvePath = resolver(baseDir);

  const gateway = root['gateway'];
  const gatewayOk = gateway !== undefined && check(gatewaySchema, gateway, ['gateway'], problems);
  if (isMapping(gateway) && typeof gateway['dataDir'] === 'string' && gateway['dataDir'] !== '') {
    files.push({ path: ['gateway', 'dataDir'], file: resolvePath(gateway['dataDir']), kind: 'dataDir', what: 'a data directory' });
  }
  const store = root['store'] ?? {};
  const storeOk = check(storeSchema, store, ['store'], problems);
  const uplink = root['uplink'];
  let uplinkOk = uplink !== undefined && check(uplinkSchema, uplink, ['uplink'], problems);
  if (uplinkOk) uplinkOk = checkUplink(uplink as UplinkSection, problems);
  if (isMapping(uplink)) {
    for (const [key, what] of Object.entries(UPLINK_FILES)) {
      const v = uplink[key];
      if (typeof v === 'string' && v !== '') files.push({ path: ['uplink', key], file: resolvePath(v), kind: 'file', what });
    }
  }
  const health = root['health'] ?? {};
  const healthOk = check(healthSchema, health, ['health'], problems) && checkListen(health as HealthSection, problems);
  const log = root['log'] ?? {};
  const logOk = check(logSchema, log, ['log'], problems);
  const updates = root['updates'];
  const updatesOk = updates === undefined || check(updatesSchema, updates, ['updates'], problems);
  if (isMapping(updates) && typeof updates['rootFile'] === 'string' && updates['rootFile'] !== '') {
    files.push({ path: ['updates', 'rootFile'], file: resolvePath(updates['rootFile']), kind: 'file', what: 'the pinned TUF root metadata' });
  }
  const learning = root['learning'] ?? {};
  let learningOk = check(learningSchema, learning, ['learning'], problems);
  if (learningOk && (learning as LearningSection).enabled === true && !isMapping(updates)) {
    // The global model of a round is a signed release, fetched through the updater's TUF client.
    problems.push(simple(['learning', 'enabled'], 'an `updates` section (a round\'s global model is a signed release fetched through TUF)', 'a config without one'));
    learningOk = false;
  }
  const service = root['service'] ?? {};
  const serviceOk = check(serviceSchema, service, ['service'], problems);
  const updateModels = isMapping(updates) && Array.isArray(updates['models']) ? updates['models'].filter((m): m is string => typeof m === 'string') : [];
  const inference = validateInference(root['inference'], registry, problems);
  const inferenceOk = inference.config !== undefined;
  const ctx: Ctx = { registry, problems, files, resolvePath, checkContext: { updates: isMapping(updates) ? { models: updateModels } : null }, backend: inference.plugin };
  const updateProvidersOk = !isMapping(updates) || checkProviders(updates['providers'], ['updates', 'providers'], ctx);
  const { entries: devices, known } = validateDevices(root['devices'] ?? [], ctx);
  const pipelines = validatePipelines(root['pipelines'] ?? [], known, ctx);
  const sparkplug = validateSparkplug(root['sparkplug'], known, ctx);
  const models = root['models'] ?? [];
  if (check(modelsSchema, models, ['models'], problems)) {
    (models as { type: string }[]).forEach((m, i) => {
      problems.push(simple(['models', i, 'type'], 'a registered model type (this version registers none yet)', describeValue(m.type)));
    });
  }

  if (!gatewayOk || !storeOk || !uplinkOk || !healthOk || !logOk || !updatesOk || !learningOk || !serviceOk || !inferenceOk || !updateProvidersOk || sparkplug === undefined || devices === undefined || pipelines === undefined || problems.length > 0) return { problems, files };

  const g = gateway as GatewaySection;
  const s = store as StoreSection;
  const u = uplink as UplinkSection;
  const h = health as HealthSection;
  const l = log as LogSection;
  const up = updates as UpdatesSection | undefined;
  const le = learning as LearningSection;
  const sv = service as ServiceSection;
  const file = (p: string | undefined): string | undefined => (p === undefined ? undefined : resolvePath(p));
  const listen = h.listen === undefined ? null : splitHostPort(h.listen);
  const config: GatewayConfig = {
    gateway: { id: g.id, dataDir: resolvePath(g.dataDir), shutdownTimeoutMs: g.shutdownTimeoutMs ?? defaults.gateway.shutdownTimeoutMs },
    devices,
    pipelines,
    models: models as unknown[],
    inference: { backend: (inference.plugin as BackendPlugin).name, config: inference.config },
    store: {
      maxSizeBytes: s.maxSizeBytes ?? defaults.store.maxSizeBytes,
      sync: s.sync ?? defaults.store.sync,
      batchMaxRecords: s.batchMaxRecords ?? defaults.store.batchMaxRecords,
      lingerMs: s.lingerMs ?? defaults.store.lingerMs,
      minFreeBytes: s.minFreeBytes ?? defaults.store.minFreeBytes,
      decisionLog: {
        retentionDays: s.decisionLog?.retentionDays ?? defaults.store.decisionLog.retentionDays,
        maxSizeBytes: s.decisionLog?.maxSizeBytes ?? defaults.store.decisionLog.maxSizeBytes,
      },
    },
    uplink: {
      url: u.url,
      clientId: u.clientId,
      username: u.username,
      password: u.password,
      passwordFile: file(u.passwordFile),
      ca: file(u.ca),
      cert: file(u.cert),
      key: file(u.key),
      rejectUnauthorized: u.rejectUnauthorized ?? defaults.uplink.rejectUnauthorized,
      keepaliveS: u.keepaliveS ?? defaults.uplink.keepaliveS,
      connectTimeoutMs: u.connectTimeoutMs ?? defaults.uplink.connectTimeoutMs,
      batchMaxRecords: u.batchMaxRecords ?? defaults.uplink.batchMaxRecords,
      batchMaxBytes: u.batchMaxBytes ?? defaults.uplink.batchMaxBytes,
      maxInFlight: u.maxInFlight ?? defaults.uplink.maxInFlight,
      reconnect: {
        minDelayMs: u.reconnect?.minDelayMs ?? defaults.uplink.reconnect.minDelayMs,
        maxDelayMs: u.reconnect?.maxDelayMs ?? defaults.uplink.reconnect.maxDelayMs,
      },
    },
    sparkplug: sparkplug.settings,
    health: { listen, intervalMs: h.intervalMs ?? defaults.health.intervalMs },
    log: { level: l.level ?? defaults.log.level },
    updates:
      up === undefined
        ? null
        : {
            metadataUrl: up.metadataUrl,
            targetBaseUrl: up.targetBaseUrl,
            rootFile: resolvePath(up.rootFile),
            models: up.models ?? [],
            checkIntervalMs: up.checkIntervalMs ?? defaults.updates.checkIntervalMs,
            providers: up.providers,
          },
    learning:
      le.enabled === true
        ? {
            reservoirWindows: le.reservoirWindows ?? defaults.learning.reservoirWindows,
            heldOutShare: le.heldOutShare ?? defaults.learning.heldOutShare,
            maxChunkBytes: le.maxChunkBytes ?? defaults.learning.maxChunkBytes,
          }
        : null,
    service: {
      memoryMax: String(sv.memoryMax ?? defaults.service.memoryMax),
      watchdogSec: sv.watchdogSec ?? defaults.service.watchdogSec,
      startLimitBurst: sv.startLimitBurst ?? defaults.service.startLimitBurst,
      startLimitIntervalSec: sv.startLimitIntervalSec ?? defaults.service.startLimitIntervalSec,
    },
  };
  return { problems, files, config };
}
