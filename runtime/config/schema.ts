import type { Infer } from 'tjs';
import { GATEWAY_ID_PATTERN } from '../../fleet/protocol/index.js';
import { OVERFLOW_POLICIES } from '../pipeline/bounded-queue.js';

/**
 * JSON Schemas of the gateway config, one per top-level section. Each section is validated
 * on its own (tjs stops at the first failure of a validation), so one `--check` reports a
 * problem per section. Plug-in entries (devices, stages) are validated by their plug-in's
 * own schema, one entry at a time. TypeScript types are inferred from these schemas.
 */

export const ID_DESCRIPTION = 'a name of letters, digits, ".", "_" or "-" (at most 64, starting with a letter or digit)';

export const idProperty = { type: 'string', pattern: GATEWAY_ID_PATTERN, description: ID_DESCRIPTION } as const;

/** A retry backoff range (reconnects, reopens); min <= max is checked where it is used. */
export const delayRangeSchema = {
  type: 'object',
  properties: {
    minDelayMs: { type: 'integer', minimum: 10, maximum: 3_600_000 },
    maxDelayMs: { type: 'integer', minimum: 10, maximum: 3_600_000 },
  },
  additionalProperties: false,
} as const;

export const gatewaySchema = {
  type: 'object',
  properties: {
    id: idProperty,
    dataDir: { type: 'string', minLength: 1, description: 'a directory path' },
    shutdownTimeoutMs: { type: 'integer', minimum: 0, maximum: 600_000 },
  },
  required: ['id', 'dataDir'],
  additionalProperties: false,
} as const;

export const queueSchema = {
  type: 'object',
  properties: {
    maxRecords: { type: 'integer', minimum: 1, maximum: 10_000_000 },
    whenFull: { enum: OVERFLOW_POLICIES },
    sampleEvery: { type: 'integer', minimum: 2, maximum: 1_000_000 },
  },
  additionalProperties: false,
} as const;

export const storeSchema = {
  type: 'object',
  properties: {
    maxSizeBytes: { type: 'integer', minimum: 65_536 },
    sync: { type: 'boolean' },
    batchMaxRecords: { type: 'integer', minimum: 1, maximum: 100_000 },
    lingerMs: { type: 'integer', minimum: 0, maximum: 1000 },
    minFreeBytes: { type: 'integer', minimum: 0 },
    decisionLog: {
      type: 'object',
      properties: {
        retentionDays: { type: 'number', exclusiveMinimum: 0, maximum: 36_500 },
        maxSizeBytes: { type: 'integer', minimum: 65_536 },
      },
      additionalProperties: false,
    },
  },
  additionalProperties: false,
} as const;

export const uplinkSchema = {
  type: 'object',
  properties: {
    url: { type: 'string', minLength: 1, description: 'a broker URL like mqtt://host:1883 or mqtts://host:8883' },
    clientId: { type: 'string', minLength: 1, maxLength: 128 },
    username: { type: 'string', minLength: 1 },
    password: { type: 'string' },
    passwordFile: { type: 'string', minLength: 1, description: 'a path to a file holding the password' },
    ca: { type: 'string', minLength: 1, description: 'a path to a PEM CA certificate' },
    cert: { type: 'string', minLength: 1, description: 'a path to a PEM client certificate' },
    key: { type: 'string', minLength: 1, description: 'a path to a PEM private key' },
    rejectUnauthorized: { type: 'boolean' },
    keepaliveS: { type: 'integer', minimum: 0, maximum: 65_535 },
    connectTimeoutMs: { type: 'integer', minimum: 100, maximum: 600_000 },
    batchMaxRecords: { type: 'integer', minimum: 1, maximum: 10_000 },
    batchMaxBytes: { type: 'integer', minimum: 1024, maximum: 1_000_000 },
    maxInFlight: { type: 'integer', minimum: 1, maximum: 1000 },
    reconnect: delayRangeSchema,
  },
  required: ['url'],
  additionalProperties: false,
} as const;

export const healthSchema = {
  type: 'object',
  properties: {
    listen: { type: 'string', pattern: '^[^:\\s]+:\\d{1,5}$', description: 'host:port for the local HTTP health endpoint, like 127.0.0.1:9464' },
    intervalMs: { type: 'integer', minimum: 1000, maximum: 3_600_000 },
  },
  additionalProperties: false,
} as const;

/** Signed model updates (TUF). Absent: the gateway never updates models by itself. */
export const updatesSchema = {
  type: 'object',
  properties: {
    metadataUrl: { type: 'string', pattern: '^https?://', description: 'an http(s):// URL of the TUF repository\'s metadata' },
    targetBaseUrl: { type: 'string', pattern: '^https?://', description: 'an http(s):// URL of the TUF repository\'s targets' },
    /** The root metadata provisioned with the gateway (trusted on first start only; later roots come through TUF). */
    rootFile: { type: 'string', minLength: 1 },
    /** Models this gateway keeps up to date (the newest signed release of each is installed). */
    models: { type: 'array', items: { type: 'string', pattern: '^[a-z0-9][a-z0-9._-]{0,63}$', description: 'a model name' }, maxItems: 64, uniqueItems: true },
    checkIntervalMs: { type: 'integer', minimum: 10_000, maximum: 7 * 86_400_000 },
    providers: { type: 'array', items: { type: 'string', minLength: 1 }, minItems: 1, maxItems: 8 },
  },
  required: ['metadataUrl', 'targetBaseUrl', 'rootFile'],
  additionalProperties: false,
} as const;

/**
 * Federated learning (issue 14): opt-in. Stages that learn a managed model keep normal data for
 * it; the round client trains when the fleet invites this gateway and sends the update.
 */
export const learningSchema = {
  type: 'object',
  properties: {
    enabled: { type: 'boolean' },
    /** Normal windows a learning stage keeps per stream (uniform over its running time). */
    reservoirWindows: { type: 'integer', minimum: 64, maximum: 65_536 },
    /** Share of the kept windows held out as local validation (only its loss is sent); 0: none. */
    heldOutShare: { type: 'number', minimum: 0, maximum: 0.5 },
    /** Largest MQTT payload per update chunk (1 KiB to 64 KiB; PROTOCOL.md's chunks). */
    maxChunkBytes: { type: 'integer', minimum: 1024, maximum: 65_536 },
  },
  additionalProperties: false,
} as const;

/**
 * The inference backend and its settings. Only `backend` is the core's: the rest of the section
 * is checked by the chosen backend's own schema (models/engine/backends/<name>/schema.ts).
 */
export const inferenceSchema = {
  type: 'object',
  properties: {
    backend: { type: 'string', minLength: 1, description: 'an inference backend name' },
  },
} as const;

/**
 * How systemd runs the gateway (`edgewise install` writes the unit from it; the gateway itself
 * reads only watchdogSec's consequence, WATCHDOG_USEC, from systemd). Absent: the defaults.
 */
export const serviceSchema = {
  type: 'object',
  properties: {
    /** The unit's MemoryMax=: bytes, or a number with K, M or G (1024-based, as systemd reads it). */
    memoryMax: {
      anyOf: [
        { type: 'integer', minimum: 16_777_216 },
        { type: 'string', pattern: '^[1-9][0-9]{0,9}[KMG]$', description: 'a size like "256M" or "1G" (K, M, G: 1024-based), or bytes as a number (at least 16 MiB)' },
      ],
    },
    /** WatchdogSec=: systemd restarts a gateway that has not pinged for this long; 0: no watchdog. */
    watchdogSec: { type: 'integer', minimum: 0, maximum: 3600 },
    /** Failed starts within startLimitIntervalSec after which systemd gives up and rolls back. */
    startLimitBurst: { type: 'integer', minimum: 1, maximum: 100 },
    startLimitIntervalSec: { type: 'integer', minimum: 10, maximum: 86_400 },
  },
  additionalProperties: false,
} as const;

export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;

export const logSchema = {
  type: 'object',
  properties: {
    level: { enum: LOG_LEVELS },
  },
  additionalProperties: false,
} as const;

/** A plug-in entry before its plug-in is known: a mapping with a `type`. */
export const pluginEntrySchema = {
  type: 'object',
  properties: { type: { type: 'string', minLength: 1, description: 'a plug-in type name' } },
  required: ['type'],
} as const;

export const devicesSchema = {
  type: 'array',
  items: {
    type: 'object',
    properties: { id: idProperty, type: { type: 'string', minLength: 1, description: 'a device type name' } },
    required: ['id', 'type'],
  },
} as const;

export const pipelinesSchema = {
  type: 'array',
  items: {
    type: 'object',
    properties: {
      id: idProperty,
      source: { type: 'string', minLength: 1, description: 'the id of a device in `devices`' },
      queue: queueSchema,
      stages: { type: 'array', items: pluginEntrySchema },
    },
    required: ['id', 'source'],
    additionalProperties: false,
  },
} as const;

export const modelsSchema = {
  type: 'array',
  items: pluginEntrySchema,
} as const;

/**
 * Top-level sections. `sparkplug` (a Sparkplug B edge node on the plant's broker) has its schema
 * beside its code, runtime/uplink/sparkplug/schema.ts, which imports this file: validate.ts
 * checks it (importing it here would make a cycle).
 */
export const SECTIONS = ['gateway', 'devices', 'pipelines', 'models', 'inference', 'store', 'uplink', 'sparkplug', 'health', 'log', 'updates', 'learning', 'service'] as const;
export type SectionName = (typeof SECTIONS)[number];

export type GatewaySection = Infer<typeof gatewaySchema>;
export type QueueSection = Infer<typeof queueSchema>;
export type StoreSection = Infer<typeof storeSchema>;
export type UplinkSection = Infer<typeof uplinkSchema>;
export type HealthSection = Infer<typeof healthSchema>;
export type LogSection = Infer<typeof logSchema>;
export type UpdatesSection = Infer<typeof updatesSchema>;
export type LearningSection = Infer<typeof learningSchema>;
export type ServiceSection = Infer<typeof serviceSchema>;
export type PipelineSection = Infer<typeof pipelinesSchema>[number];
