import { readFile } from 'node:fs/promises';
import { LineCounter, parseDocument, isNode, type Document } from 'yaml';
import { schema } from 'tjs';
import { describeValue, formatPath, toSchemaProblem, type SchemaProblem } from '../../fleet/protocol/schema-problems.js';
import { ConfigError, EdgewiseError } from '../errors.js';
import type { QueueOptions } from '../pipeline/bounded-queue.js';
import type { PluginRegistry } from '../pipeline/registry.js';
import type { UplinkSettings } from '../uplink/mqtt-options.js';
import { defaults } from './defaults.js';
import {
  SECTIONS,
  devicesSchema,
  gatewaySchema,
  healthSchema,
  updatesSchema,
  logSchema,
  modelsSchema,
  pipelinesSchema,
  queueSchema,
  storeSchema,
  uplinkSchema,
  type GatewaySection,
  type HealthSection,
  type LogSection,
  type UpdatesSection,
  type PipelineSection,
  type QueueSection,
  type StoreSection,
  type UplinkSection,
} from './schema.js';

export interface DeviceEntry {
  readonly id: string;
  readonly type: string;
  /** The entry as validated by its plug-in's schema. */
  readonly config: unknown;
}

export interface StageEntry {
  readonly type: string;
  readonly queue: QueueOptions;
  readonly config: unknown;
}

export interface PipelineEntry {
  readonly id: string;
  readonly source: string;
  readonly queue: QueueOptions;
  readonly stages: readonly StageEntry[];
  /** Made for a device that no pipeline names: source straight to the store. */
  readonly implicit: boolean;
}

/** The gateway config after validation, with every default filled in. */
export interface GatewayConfig {
  readonly gateway: { readonly id: string; readonly dataDir: string; readonly shutdownTimeoutMs: number };
  readonly devices: readonly DeviceEntry[];
  readonly pipelines: readonly PipelineEntry[];
  readonly models: readonly unknown[];
  readonly store: {
    readonly maxSizeBytes: number;
    readonly sync: boolean;
    readonly batchMaxRecords: number;
    readonly decisionLog: { readonly retentionDays: number; readonly maxSizeBytes: number };
  };
  readonly uplink: UplinkSettings;
  readonly health: { readonly listen: { readonly host: string; readonly port: number } | null; readonly intervalMs: number };
  readonly log: { readonly level: 'debug' | 'info' | 'warn' | 'error' };
  readonly updates: {
    readonly metadataUrl: string;
    readonly targetBaseUrl: string;
    readonly rootFile: string;
    readonly models: readonly string[];
    readonly checkIntervalMs: number;
    readonly providers: readonly string[];
  } | null;
}

type Path = readonly (string | number)[];
interface Problem {
  readonly path: Path;
  readonly text: string;
}

const validators = {
  gateway: schema(gatewaySchema),
  store: schema(storeSchema),
  uplink: schema(uplinkSchema),
  health: schema(healthSchema),
  log: schema(logSchema),
  updates: schema(updatesSchema),
  devices: schema(devicesSchema),
  pipelines: schema(pipelinesSchema),
  models: schema(modelsSchema),
  queue: schema(queueSchema),
};

const REQUIRED_SECTIONS = ['gateway', 'uplink'] as const;

function problemOf(p: SchemaProblem): Problem {
  return { path: p.path, text: `${formatPath(p.path)}: expected ${p.expected}, got ${p.got}` };
}

function simple(path: Path, expected: string, got: string): Problem {
  return problemOf({ path, expected, got });
}

/** Validates `value` with a section validator; returns at most one problem (tjs stops at the first). */
function check<T>(
  validator: { validate(v: unknown): { value?: unknown; error?: readonly { instancePath: string; keyword: string; params?: object; message?: string }[] } },
  jsonSchema: object,
  value: unknown,
  base: Path,
  problems: Problem[],
): value is T {
  const result = validator.validate(value);
  const first = result.error?.[0];
  if (first === undefined) return true;
  problems.push(problemOf(toSchemaProblem(first, jsonSchema as Record<string, unknown>, value, base)));
  return false;
}

function isMapping(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function resolveQueue(q: QueueSection | undefined, fallback: QueueOptions): QueueOptions {
  return {
    maxRecords: q?.maxRecords ?? fallback.maxRecords,
    whenFull: q?.whenFull ?? fallback.whenFull,
    sampleEvery: q?.sampleEvery ?? fallback.sampleEvery,
  };
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

/**
 * Validates a config document (YAML text) and fills in defaults. Pure: reads no files.
 * Throws ConfigError listing every problem found, one line each.
 */
export function parseConfig(text: string, sourceName: string, registry: PluginRegistry): GatewayConfig {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, uniqueKeys: true, prettyErrors: false });
  if (doc.errors.length > 0) {
    throw new ConfigError(
      sourceName,
      doc.errors.map((e) => {
        const pos = lineCounter.linePos(e.pos[0]);
        return `line ${pos.line}, column ${pos.col}: not valid YAML: ${e.message.split('\n')[0] ?? e.code}`;
      }),
    );
  }
  let root: unknown;
  try {
    root = doc.toJS({ maxAliasCount: 100 });
  } catch (err) {
    throw new ConfigError(sourceName, [`not usable YAML: ${(err as Error).message}`]);
  }
  const problems: Problem[] = [];
  const result = validateRoot(root, registry, problems);
  if (result === undefined || problems.length > 0) {
    const located = problems.map((p) => locate(p, doc, lineCounter));
    located.sort((a, b) => (a.line ?? Number.MAX_SAFE_INTEGER) - (b.line ?? Number.MAX_SAFE_INTEGER));
    throw new ConfigError(sourceName, located.map((p) => (p.line === undefined ? p.text : `${p.text} (line ${p.line})`)));
  }
  return result;
}

/** The line of the deepest node on the problem's path that exists (a missing key points at its parent). */
function locate(problem: Problem, doc: Document, lines: LineCounter): { text: string; line: number | undefined } {
  for (let n = problem.path.length; n >= 0; n -= 1) {
    const node = n === 0 ? doc.contents : doc.getIn(problem.path.slice(0, n), true);
    if (isNode(node) && node.range !== undefined && node.range !== null) {
      return { text: problem.text, line: lines.linePos(node.range[0]).line };
    }
  }
  return { text: problem.text, line: undefined };
}

function validateRoot(root: unknown, registry: PluginRegistry, problems: Problem[]): GatewayConfig | undefined {
  if (!isMapping(root)) {
    const got = root === null || root === undefined ? 'nothing (the file is empty)' : describeValue(root);
    problems.push(simple([], `a mapping with the sections ${SECTIONS.join(', ')}`, got));
    return undefined;
  }
  for (const key of Object.keys(root)) {
    if (!(SECTIONS as readonly string[]).includes(key)) problems.push(simple([key], `one of the sections (${SECTIONS.join(', ')})`, `unknown section ${JSON.stringify(key)}`));
  }
  for (const key of REQUIRED_SECTIONS) {
    if (root[key] === undefined) problems.push(simple([key], 'a mapping (required section)', 'nothing'));
  }

  const gateway = root['gateway'];
  const gatewayOk = gateway !== undefined && check<GatewaySection>(validators.gateway, gatewaySchema, gateway, ['gateway'], problems);
  const store = root['store'] ?? {};
  const storeOk = check<StoreSection>(validators.store, storeSchema, store, ['store'], problems);
  const uplink = root['uplink'];
  let uplinkOk = uplink !== undefined && check<UplinkSection>(validators.uplink, uplinkSchema, uplink, ['uplink'], problems);
  if (uplinkOk) uplinkOk = checkUplink(uplink as UplinkSection, problems);
  const health = root['health'] ?? {};
  const healthOk = check<HealthSection>(validators.health, healthSchema, health, ['health'], problems) && checkListen(health as HealthSection, problems);
  const log = root['log'] ?? {};
  const logOk = check<LogSection>(validators.log, logSchema, log, ['log'], problems);
  const updates = root['updates'];
  const updatesOk = updates === undefined || check<UpdatesSection>(validators.updates, updatesSchema, updates, ['updates'], problems);
  const { entries: devices, ids: deviceIds } = validateDevices(root['devices'] ?? [], registry, problems);
  const pipelines = validatePipelines(root['pipelines'] ?? [], deviceIds, registry, problems);
  const models = root['models'] ?? [];
  if (check<unknown[]>(validators.models, modelsSchema, models, ['models'], problems)) {
    (models as { type: string }[]).forEach((m, i) => {
      problems.push(simple(['models', i, 'type'], 'a registered model type (this version registers none yet)', describeValue(m.type)));
    });
  }

  if (!gatewayOk || !storeOk || !uplinkOk || !healthOk || !logOk || !updatesOk || devices === undefined || pipelines === undefined || problems.length > 0) return undefined;

  const g = gateway as GatewaySection;
  const s = store as StoreSection;
  const u = uplink as UplinkSection;
  const h = health as HealthSection;
  const l = log as LogSection;
  const listen = h.listen === undefined ? null : splitHostPort(h.listen);
  return {
    gateway: { id: g.id, dataDir: g.dataDir, shutdownTimeoutMs: g.shutdownTimeoutMs ?? defaults.gateway.shutdownTimeoutMs },
    devices,
    pipelines,
    models: models as unknown[],
    store: {
      maxSizeBytes: s.maxSizeBytes ?? defaults.store.maxSizeBytes,
      sync: s.sync ?? defaults.store.sync,
      batchMaxRecords: s.batchMaxRecords ?? defaults.store.batchMaxRecords,
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
      passwordFile: u.passwordFile,
      ca: u.ca,
      cert: u.cert,
      key: u.key,
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
    health: { listen, intervalMs: h.intervalMs ?? defaults.health.intervalMs },
    log: { level: l.level ?? defaults.log.level },
    updates:
      updates === undefined
        ? null
        : {
            metadataUrl: (updates as UpdatesSection).metadataUrl,
            targetBaseUrl: (updates as UpdatesSection).targetBaseUrl,
            rootFile: (updates as UpdatesSection).rootFile,
            models: (updates as UpdatesSection).models ?? [],
            checkIntervalMs: (updates as UpdatesSection).checkIntervalMs ?? defaults.updates.checkIntervalMs,
            providers: (updates as UpdatesSection).providers ?? ['cpu'],
          },
  };
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

/** Validates each device with its plug-in; `ids` is known whenever the list itself is well formed. */
function validateDevices(value: unknown, registry: PluginRegistry, problems: Problem[]): { entries?: DeviceEntry[]; ids?: string[] } {
  if (!check<{ id: string; type: string }[]>(validators.devices, devicesSchema, value, ['devices'], problems)) return {};
  const ids = (value as { id: string }[]).map((d) => d.id);
  const out: DeviceEntry[] = [];
  const seen = new Map<string, number>();
  let ok = true;
  (value as Record<string, unknown>[]).forEach((entry, i) => {
    const id = entry['id'] as string;
    const type = entry['type'] as string;
    const first = seen.get(id);
    if (first !== undefined) {
      problems.push(simple(['devices', i, 'id'], `an id not used by another device (devices[${first}] has it)`, describeValue(id)));
      ok = false;
    }
    seen.set(id, i);
    const plugin = registry.source(type);
    if (plugin === undefined) {
      problems.push(simple(['devices', i, 'type'], `one of ${registry.types('source').map((t) => JSON.stringify(t)).join(', ')}`, describeValue(type)));
      ok = false;
      return;
    }
    const result = plugin.validate(entry);
    const err = result.error?.[0];
    if (err !== undefined) {
      problems.push(problemOf(toSchemaProblem(err, plugin.configSchema as Record<string, unknown>, entry, ['devices', i])));
      ok = false;
      return;
    }
    out.push({ id, type, config: result.value });
  });
  return ok ? { entries: out, ids } : { ids };
}

function validatePipelines(value: unknown, deviceIds: string[] | undefined, registry: PluginRegistry, problems: Problem[]): PipelineEntry[] | undefined {
  if (!check<PipelineSection[]>(validators.pipelines, pipelinesSchema, value, ['pipelines'], problems)) return undefined;
  const sections = value as PipelineSection[];
  const out: PipelineEntry[] = [];
  const ids = new Map<string, number>();
  const usedSources = new Map<string, number>();
  let ok = true;
  sections.forEach((p, i) => {
    if (ids.has(p.id)) {
      problems.push(simple(['pipelines', i, 'id'], `an id not used by another pipeline (pipelines[${String(ids.get(p.id))}] has it)`, describeValue(p.id)));
      ok = false;
    }
    ids.set(p.id, i);
    if (deviceIds !== undefined && !deviceIds.includes(p.source)) {
      const known = deviceIds.map((d) => JSON.stringify(d)).join(', ');
      problems.push(simple(['pipelines', i, 'source'], known === '' ? 'the id of a device (no devices are configured)' : `the id of a device (${known})`, describeValue(p.source)));
      ok = false;
    }
    const earlier = usedSources.get(p.source);
    if (earlier !== undefined) {
      problems.push(simple(['pipelines', i, 'source'], `a device no other pipeline reads (pipelines[${earlier}] reads it)`, describeValue(p.source)));
      ok = false;
    }
    usedSources.set(p.source, i);
    const pipelineQueue = resolveQueue(p.queue, defaults.queue);
    const stages: StageEntry[] = [];
    (p.stages ?? []).forEach((raw, j) => {
      const entry = raw as Record<string, unknown>;
      const { queue, ...rest } = entry;
      const path = ['pipelines', i, 'stages', j];
      if (queue !== undefined && !check<QueueSection>(validators.queue, queueSchema, queue, [...path, 'queue'], problems)) {
        ok = false;
        return;
      }
      const plugin = registry.stage(entry['type'] as string);
      if (plugin === undefined) {
        problems.push(simple([...path, 'type'], `one of ${registry.types('stage').map((t) => JSON.stringify(t)).join(', ')}`, describeValue(entry['type'])));
        ok = false;
        return;
      }
      const result = plugin.validate(rest);
      const err = result.error?.[0];
      if (err !== undefined) {
        problems.push(problemOf(toSchemaProblem(err, plugin.configSchema as Record<string, unknown>, rest, path)));
        ok = false;
        return;
      }
      stages.push({ type: plugin.type, queue: resolveQueue(queue as QueueSection | undefined, pipelineQueue), config: result.value });
    });
    out.push({ id: p.id, source: p.source, queue: pipelineQueue, stages, implicit: false });
  });
  if (deviceIds !== undefined) {
    for (const id of deviceIds) {
      if (usedSources.has(id)) continue;
      if (ids.has(id)) {
        problems.push(simple(['devices'], `device ${JSON.stringify(id)} to be read by a pipeline (a pipeline named like it reads another device)`, 'no pipeline'));
        ok = false;
        continue;
      }
      out.push({ id, source: id, queue: { ...defaults.queue }, stages: [], implicit: true });
    }
  }
  return ok ? out : undefined;
}

/** Reads and validates a config file. Throws ConfigError (exit code 2 material). */
export async function loadConfig(path: string, registry: PluginRegistry): Promise<GatewayConfig> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new EdgewiseError('E_CONFIG_READ', `config ${path} could not be read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { cause: err });
  }
  return parseConfig(text, path, registry);
}
