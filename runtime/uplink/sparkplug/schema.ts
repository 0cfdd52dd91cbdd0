import type { Infer } from 'tjs';
import { delayRangeSchema } from '../../config/schema.js';
import type { PluginProblem } from '../../pipeline/registry.js';
import { SPARKPLUG_TYPES } from './metrics.js';

/**
 * A Sparkplug id (group, edge node, device, host): UTF-8 without the MQTT topic characters
 * `/`, `+` and `#` (tck-id-intro-group-id-chars, -edge-node-id-chars, -device-id-chars).
 */
const sparkplugId = (what: string) => ({ type: 'string', pattern: '^[^/+#\\s]{1,64}$', description: `${what}: 1 to 64 characters, no / + # or spaces` }) as const;

export const sparkplugMetricSchema = {
  type: 'object',
  properties: {
    name: { type: 'string', minLength: 1, maxLength: 128, description: "the key in the source record's values; also the Sparkplug metric name" },
    type: { enum: SPARKPLUG_TYPES, description: 'the Sparkplug datatype announced in the DBIRTH (default Double)' },
    unit: { type: 'string', minLength: 1, maxLength: 32, description: 'the engUnit property in the DBIRTH, like degC or kWh' },
    write: { type: 'boolean', description: 'a host may set it with a DCMD, written through the source (a Modbus point needs `write: true` as well); default false' },
  },
  required: ['name'],
  additionalProperties: false,
} as const;

export const sparkplugSourceSchema = {
  type: 'object',
  properties: {
    id: { type: 'string', minLength: 1, maxLength: 128, description: 'a source id from devices' },
    deviceId: sparkplugId('the Sparkplug device id (default: the source id)'),
    metrics: { type: 'array', items: sparkplugMetricSchema, minItems: 1, maxItems: 10_000 },
  },
  required: ['id', 'metrics'],
  additionalProperties: false,
} as const;

/** The `sparkplug:` section: this gateway as a Sparkplug B edge node on the plant's broker. */
export const sparkplugSchema = {
  type: 'object',
  properties: {
    url: { type: 'string', pattern: '^mqtts?://', description: 'the plant broker, like mqtt://scada-broker:1883 or mqtts://scada-broker:8883' },
    clientId: { type: 'string', minLength: 1, maxLength: 128 },
    groupId: sparkplugId('the Sparkplug group id'),
    edgeNodeId: sparkplugId('the Sparkplug edge node id'),
    primaryHostId: sparkplugId('the primary host application id; absent: no STATE gating'),
    stateFormat: { enum: ['v3', 'v2', 'auto'], description: 'v3: JSON on spBv1.0/STATE/<host> (default); v2: ONLINE/OFFLINE on STATE/<host>; auto: both' },
    username: { type: 'string', minLength: 1 },
    password: { type: 'string' },
    passwordFile: { type: 'string', minLength: 1, description: 'a path to a file holding the password' },
    tls: {
      type: 'object',
      properties: {
        ca: { type: 'string', minLength: 1, description: 'a path to a PEM CA certificate' },
        cert: { type: 'string', minLength: 1, description: 'a path to a PEM client certificate' },
        key: { type: 'string', minLength: 1, description: 'a path to a PEM private key' },
        rejectUnauthorized: { type: 'boolean' },
      },
      additionalProperties: false,
    },
    keepaliveS: { type: 'integer', minimum: 0, maximum: 65_535 },
    connectTimeoutMs: { type: 'integer', minimum: 100, maximum: 600_000 },
    reconnect: delayRangeSchema,
    qos: { enum: [0, 1], description: 'QoS of births and data: 1 (default) acknowledges a record only at its PUBACK; 0 is what the spec asks, acknowledged once written to the socket' },
    datatypeInData: { type: 'boolean', description: 'also send each metric\'s datatype in DDATA (default false: the spec says SHOULD NOT)' },
    maxInFlight: { type: 'integer', minimum: 1, maximum: 1000, description: 'DDATA messages awaiting their PUBACK at most (default 16)' },
    batchMaxRecords: { type: 'integer', minimum: 1, maximum: 10_000, description: 'records of one device per DDATA at most (default 100)' },
    sources: { type: 'array', items: sparkplugSourceSchema, minItems: 1, maxItems: 1000 },
  },
  required: ['url', 'groupId', 'edgeNodeId', 'sources'],
  additionalProperties: false,
} as const;

export type SparkplugSection = Infer<typeof sparkplugSchema>;
export type SparkplugSourceSection = Infer<typeof sparkplugSourceSchema>;

/** The section with every default filled in: declared here and nowhere else. */
export interface SparkplugSettings {
  readonly url: string;
  readonly clientId: string;
  readonly groupId: string;
  readonly edgeNodeId: string;
  readonly primaryHostId: string | undefined;
  readonly stateFormat: 'v3' | 'v2' | 'auto';
  readonly username: string | undefined;
  readonly password: string | undefined;
  readonly passwordFile: string | undefined;
  readonly tls: { readonly ca?: string; readonly cert?: string; readonly key?: string; readonly rejectUnauthorized: boolean };
  readonly keepaliveS: number;
  readonly connectTimeoutMs: number;
  readonly reconnect: { readonly minDelayMs: number; readonly maxDelayMs: number };
  readonly qos: 0 | 1;
  readonly datatypeInData: boolean;
  readonly maxInFlight: number;
  readonly batchMaxRecords: number;
  readonly sources: readonly SparkplugSourceSection[];
}

export function sparkplugSettings(s: SparkplugSection): SparkplugSettings {
  return {
    url: s.url,
    clientId: s.clientId ?? `edgewise-spb-${s.groupId}-${s.edgeNodeId}`,
    groupId: s.groupId,
    edgeNodeId: s.edgeNodeId,
    primaryHostId: s.primaryHostId,
    stateFormat: s.stateFormat ?? 'v3',
    username: s.username,
    password: s.password,
    passwordFile: s.passwordFile,
    tls: { ...s.tls, rejectUnauthorized: s.tls?.rejectUnauthorized ?? true },
    keepaliveS: s.keepaliveS ?? 30,
    connectTimeoutMs: s.connectTimeoutMs ?? 10_000,
    reconnect: { minDelayMs: s.reconnect?.minDelayMs ?? 500, maxDelayMs: s.reconnect?.maxDelayMs ?? 30_000 },
    qos: (s.qos ?? 1) as 0 | 1,
    datatypeInData: s.datatypeInData ?? false,
    maxInFlight: s.maxInFlight ?? 16,
    batchMaxRecords: s.batchMaxRecords ?? 100,
    sources: s.sources,
  };
}

/**
 * Cross-field rules the schema cannot say; paths are relative to the section. `sourceIds`,
 * when given, are the ids of the configured devices (a Sparkplug device must be one of them).
 */
export function checkSparkplug(s: SparkplugSection, sourceIds?: ReadonlySet<string>): PluginProblem[] {
  const problems: PluginProblem[] = [];
  if (s.stateFormat !== undefined && s.primaryHostId === undefined) problems.push({ path: ['stateFormat'], expected: 'stateFormat only with primaryHostId (it says how that host announces its STATE)', got: s.stateFormat });
  if (s.password !== undefined && s.passwordFile !== undefined) problems.push({ path: ['passwordFile'], expected: 'one of password or passwordFile', got: 'both' });
  if ((s.tls?.cert === undefined) !== (s.tls?.key === undefined)) problems.push({ path: ['tls', s.tls?.cert === undefined ? 'cert' : 'key'], expected: 'tls.cert and tls.key together (a client certificate and its key)', got: 'only one of them' });
  const r = s.reconnect;
  if (r?.minDelayMs !== undefined && r.maxDelayMs !== undefined && r.minDelayMs > r.maxDelayMs) problems.push({ path: ['reconnect', 'maxDelayMs'], expected: `a number >= reconnect.minDelayMs (${r.minDelayMs})`, got: String(r.maxDelayMs) });
  const ids = new Map<string, number>();
  const devices = new Map<string, number>();
  s.sources.forEach((src, i) => {
    const at = ['sources', i];
    const sameId = ids.get(src.id);
    if (sameId !== undefined) problems.push({ path: [...at, 'id'], expected: 'each source once', got: `"${src.id}", also sources[${sameId}]` });
    else ids.set(src.id, i);
    if (sourceIds !== undefined && deviceOfSource(src.id, sourceIds) === undefined) {
      problems.push({ path: [...at, 'id'], expected: `the id of a configured device (${[...sourceIds].join(', ') || 'none configured'}), or one followed by a part of its streams, like <modbus id>.<slave name>`, got: `"${src.id}"` });
    }
    const deviceId = src.deviceId ?? src.id;
    if (src.deviceId === undefined && !/^[^/+#\s]{1,64}$/.test(src.id)) problems.push({ path: [...at, 'id'], expected: 'a deviceId: this source id cannot be a Sparkplug device id (no / + # or spaces, at most 64)', got: `"${src.id}"` });
    const sameDevice = devices.get(deviceId);
    if (sameDevice !== undefined) problems.push({ path: [...at, src.deviceId === undefined ? 'id' : 'deviceId'], expected: 'a Sparkplug device id unique on this edge node', got: `"${deviceId}", also sources[${sameDevice}]` });
    else devices.set(deviceId, i);
    const names = new Map<string, number>();
    src.metrics.forEach((m, j) => {
      const same = names.get(m.name);
      if (same !== undefined) problems.push({ path: [...at, 'metrics', j, 'name'], expected: `a metric name unique in device ${deviceId}`, got: `"${m.name}", also metrics[${same}]` });
      else names.set(m.name, j);
    });
  });
  return problems;
}

/**
 * The configured device a Sparkplug source belongs to, and the scope within it: `plc` is the
 * whole device `plc`; `plc.press1` is the part of `plc` whose streams start `plc.press1.` (a
 * Modbus slave: its records' streams are `<id>.<slave>.<group>`), scope `press1`. The longest
 * device id that fits wins. undefined: no configured device.
 */
export function deviceOfSource(sourceId: string, deviceIds: Iterable<string>): { readonly deviceId: string; readonly scope: string | undefined } | undefined {
  let best: string | undefined;
  for (const id of deviceIds) {
    const fits = sourceId === id || (sourceId.length > id.length + 1 && sourceId.startsWith(id) && sourceId[id.length] === '.');
    if (fits && (best === undefined || id.length > best.length)) best = id;
  }
  if (best === undefined) return undefined;
  return { deviceId: best, scope: best === sourceId ? undefined : sourceId.slice(best.length + 1) };
}
