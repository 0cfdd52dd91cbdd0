import type { Infer } from 'tjs';
import { RECORD_CLASSES } from '../../fleet/protocol/index.js';
import { delayRangeSchema, idProperty } from '../../runtime/config/schema.js';
import type { FileNeed, PluginProblem } from '../../runtime/pipeline/registry.js';
import { parseNodeId } from './node-id.js';

const nameProperty = { type: 'string', pattern: '^[A-Za-z0-9_][A-Za-z0-9_.:-]{0,63}$', description: 'a name of letters, digits, _ . : - (at most 64)' } as const;

export const SECURITY_MODES = ['None', 'Sign', 'SignAndEncrypt'] as const;
/** Basic128Rsa15 and Basic256 are deprecated (and need --security-revert on Node 20): not offered. */
export const SECURITY_POLICIES = ['None', 'Basic256Sha256', 'Aes128_Sha256_RsaOaep', 'Aes256_Sha256_RsaPss'] as const;

export const opcuaItemSchema = {
  type: 'object',
  properties: {
    nodeId: { type: 'string', minLength: 1, maxLength: 4200, description: 'ns=2;s=Line1.Temp, ns=3;i=1001, nsu=urn:...;s=... (see `edgewise opcua browse`)' },
    name: { ...nameProperty, description: 'the key of this item in the record\'s data.values' },
    samplingIntervalMs: { type: 'number', minimum: 0, maximum: 86_400_000, description: 'how often the server samples the value (0: as fast as it can; default: the subscription\'s publishing interval)' },
    queueSize: { type: 'integer', minimum: 1, maximum: 10_000, description: 'changes the server keeps per item between two publishes (default 10)' },
    deadband: {
      type: 'object',
      properties: {
        type: { enum: ['absolute', 'percent'], description: 'absolute: in the value\'s unit; percent: of the item\'s EURange (the server must have one)' },
        value: { type: 'number', minimum: 0, description: 'a change smaller than this is not reported' },
      },
      required: ['type', 'value'],
      additionalProperties: false,
    },
    unit: { type: 'string', minLength: 1, maxLength: 32, description: 'engineering unit recorded with the value, like degC or bar' },
  },
  required: ['nodeId', 'name'],
  additionalProperties: false,
} as const;

export const opcuaSubscriptionSchema = {
  type: 'object',
  properties: {
    name: nameProperty,
    publishingIntervalMs: { type: 'number', minimum: 10, maximum: 3_600_000, description: 'how often the server sends the changes it queued (default 1000)' },
    lifetimeCount: { type: 'integer', minimum: 3, maximum: 100_000, description: 'publishing intervals without a Publish request before the server drops the subscription (default 600; at least 3 x keepAliveCount)' },
    keepAliveCount: { type: 'integer', minimum: 1, maximum: 10_000, description: 'publishing intervals without a change before the server sends a keep-alive (default 10)' },
    stream: { type: 'string', minLength: 1, maxLength: 128, description: 'the stream of this subscription\'s records (default: <source id>.<subscription name>)' },
    items: { type: 'array', items: opcuaItemSchema, minItems: 1, maxItems: 50_000 },
  },
  required: ['name', 'items'],
  additionalProperties: false,
} as const;

/** One OPC UA server (an endpoint) and the subscriptions the gateway keeps on it. */
export const opcuaSchema = {
  type: 'object',
  properties: {
    id: idProperty,
    type: { const: 'opcua' },
    endpoint: { type: 'string', pattern: '^opc\\.tcp://[^\\s/:]+(:[0-9]{1,5})?(/\\S*)?$', description: 'opc.tcp://host:port/path' },
    security: {
      type: 'object',
      properties: {
        mode: { enum: SECURITY_MODES, description: 'None (default), Sign or SignAndEncrypt' },
        policy: { enum: SECURITY_POLICIES, description: 'default Basic256Sha256 with Sign/SignAndEncrypt, None with None' },
        pkiDir: { type: 'string', minLength: 1, description: 'the client PKI: own/ (its certificate), trusted/certs (the trust list), rejected/ (server certificates refused); default <dataDir>/state/source-<id>/pki' },
        certificateFile: { type: 'string', minLength: 1, description: 'the client certificate (PEM); default: one made in pkiDir/own on first start' },
        privateKeyFile: { type: 'string', minLength: 1, description: 'the private key of certificateFile (PEM)' },
      },
      additionalProperties: false,
    },
    user: {
      type: 'object',
      properties: {
        name: { type: 'string', minLength: 1, maxLength: 256 },
        passwordFile: { type: 'string', minLength: 1, description: 'a file holding the password (one line; never in the config or the logs)' },
      },
      required: ['name', 'passwordFile'],
      additionalProperties: false,
    },
    connectTimeoutMs: { type: 'integer', minimum: 100, maximum: 600_000, description: 'one connect attempt at most this long (default 10000)' },
    sessionTimeoutMs: { type: 'integer', minimum: 1000, maximum: 3_600_000, description: 'the session the server keeps for us across a network cut (default 60000)' },
    reconnect: delayRangeSchema,
    /** Samples received and not yet on the first edge: past it, Publish requests stop and the server queues. */
    maxPendingSamples: { type: 'integer', minimum: 100, maximum: 10_000_000, description: 'samples held before the first edge takes them (default 100000)' },
    class: { enum: RECORD_CLASSES },
    subscriptions: { type: 'array', items: opcuaSubscriptionSchema, minItems: 1, maxItems: 100 },
  },
  required: ['id', 'type', 'endpoint', 'subscriptions'],
  additionalProperties: false,
} as const;

export type OpcuaConfig = Infer<typeof opcuaSchema>;
export type OpcuaItemConfig = Infer<typeof opcuaItemSchema>;
export type OpcuaSubscriptionConfig = Infer<typeof opcuaSubscriptionSchema>;

/** Cross-field rules of an `opcua` entry the schema cannot say; paths are relative to the entry. */
export function checkOpcua(config: OpcuaConfig): PluginProblem[] {
  const problems: PluginProblem[] = [];
  const s = config.security;
  const mode = s?.mode ?? 'None';
  if (s?.policy !== undefined && (mode === 'None') !== (s.policy === 'None')) {
    problems.push({ path: ['security', 'policy'], expected: mode === 'None' ? 'policy None (or no policy) with mode None' : `a signing policy (${SECURITY_POLICIES.slice(1).join(', ')}) with mode ${mode}`, got: s.policy });
  }
  if ((s?.certificateFile === undefined) !== (s?.privateKeyFile === undefined)) {
    problems.push({ path: ['security', s?.certificateFile === undefined ? 'certificateFile' : 'privateKeyFile'], expected: 'certificateFile and privateKeyFile together (or neither: a certificate is made in pkiDir)', got: 'only one of them' });
  }
  const r = config.reconnect;
  if (r?.minDelayMs !== undefined && r.maxDelayMs !== undefined && r.minDelayMs > r.maxDelayMs) {
    problems.push({ path: ['reconnect', 'maxDelayMs'], expected: `a number >= reconnect.minDelayMs (${r.minDelayMs})`, got: String(r.maxDelayMs) });
  }
  const subNames = new Map<string, number>();
  const itemNames = new Map<string, string>();
  config.subscriptions.forEach((sub, i) => {
    const at = ['subscriptions', i];
    const same = subNames.get(sub.name);
    if (same !== undefined) problems.push({ path: [...at, 'name'], expected: 'a subscription name unique in this source', got: `"${sub.name}", also subscriptions[${same}]` });
    else subNames.set(sub.name, i);
    const keepAlive = sub.keepAliveCount ?? 10;
    const lifetime = sub.lifetimeCount ?? 600;
    if (lifetime < 3 * keepAlive) problems.push({ path: [...at, 'lifetimeCount'], expected: `at least 3 x keepAliveCount (${3 * keepAlive})`, got: String(lifetime) });
    sub.items.forEach((item, j) => {
      const iat = [...at, 'items', j];
      const parsed = parseNodeId(item.nodeId);
      if (!parsed.ok) problems.push({ path: [...iat, 'nodeId'], expected: parsed.expected, got: item.nodeId });
      if (item.deadband?.type === 'percent' && item.deadband.value > 100) problems.push({ path: [...iat, 'deadband', 'value'], expected: 'a percent deadband of 0..100', got: String(item.deadband.value) });
      const where = `subscriptions[${i}].items[${j}]`;
      const sameItem = itemNames.get(item.name);
      if (sameItem !== undefined) problems.push({ path: [...iat, 'name'], expected: 'an item name unique in this source', got: `"${item.name}", also ${sameItem}` });
      else itemNames.set(item.name, where);
    });
  });
  return problems;
}

/** Files the source reads at start (checked at --check too). */
export function opcuaFiles(config: OpcuaConfig): FileNeed[] {
  const files: FileNeed[] = [];
  if (config.user !== undefined) files.push({ key: ['user', 'passwordFile'], file: config.user.passwordFile, what: 'a password file' });
  const s = config.security;
  if (s?.certificateFile !== undefined) files.push({ key: ['security', 'certificateFile'], file: s.certificateFile, what: 'a PEM certificate' });
  if (s?.privateKeyFile !== undefined) files.push({ key: ['security', 'privateKeyFile'], file: s.privateKeyFile, what: 'a PEM private key' });
  return files;
}
