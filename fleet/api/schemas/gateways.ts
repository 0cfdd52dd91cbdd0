import { GATEWAY_STATUSES } from '../../registry/gateway-store.js';
import { LABEL_KEY_PATTERN, LABEL_VALUE_PATTERN, MAX_LABELS } from '../../registry/labels.js';
import { problemResponses } from '../problem.js';
import { DEFAULT_PAGE_LIMIT, emptyBodySchema, gatewayIdSchema, limitSchema, modelNameSchema, msSchema, nextCursorSchema, noQuerySchema, orNull } from './common.js';

const TAGS = ['gateways'];

export const labelsSchema = {
  type: 'object',
  maxProperties: MAX_LABELS,
  propertyNames: { pattern: LABEL_KEY_PATTERN, description: '1-63 letters, digits, ".", "_", "-" or "/", starting with a letter or digit' },
  additionalProperties: { type: 'string', pattern: LABEL_VALUE_PATTERN, description: 'a label value: at most 63 letters, digits, ".", "_" or "-", starting with a letter or digit' },
  description: `labels as a JSON object of strings, at most ${MAX_LABELS}`,
} as const;

/** Reported by gateways and kept as they sent it: the fields are listed, none required. */
const releaseRefSchema = {
  type: orNull('object'),
  properties: { release: { type: 'integer' }, version: { type: 'string' }, sha256: { type: 'string' } },
} as const;

const gatewaySummaryProperties = {
  id: { type: 'string' },
  site: { type: 'string' },
  labels: { type: 'object', additionalProperties: { type: 'string' } },
  status: { type: 'string', enum: GATEWAY_STATUSES, description: 'never-seen: provisioned, never connected' },
  online: { type: 'boolean' },
  createdMs: { type: 'number' },
  revokedMs: { type: orNull('number') },
  lastSeenMs: { type: orNull('number') },
  stateClean: { type: orNull('boolean'), description: 'false when the last offline came from the broker\'s Last Will' },
  runtimeVersion: { type: orNull('string') },
  hardware: {
    type: orNull('object'),
    properties: { arch: { type: 'string' }, platform: { type: 'string' }, cpus: { type: 'integer' }, memoryBytes: { type: 'number' }, accelerators: { type: 'array', items: { type: 'string' } } },
  },
  releases: { type: 'object', additionalProperties: { type: 'object', properties: { active: releaseRefSchema, standby: releaseRefSchema } }, description: 'per model: the active release and the standby kept for rollback' },
  health: {
    type: orNull('object'),
    properties: { status: { type: 'string', enum: ['ok', 'degraded'] }, reasons: { type: 'array', items: { type: 'string' } }, ts: { type: 'number' } },
    required: ['status', 'reasons', 'ts'],
  },
  telemetry: { type: 'object', properties: { records: { type: 'number' }, lastMs: { type: orNull('number') } }, required: ['records', 'lastMs'] },
} as const;

const summaryRequired = ['id', 'site', 'labels', 'status', 'online', 'createdMs', 'revokedMs', 'lastSeenMs', 'stateClean', 'runtimeVersion', 'hardware', 'releases', 'health', 'telemetry'] as const;

export const gatewaySummarySchema = { type: 'object', properties: gatewaySummaryProperties, required: summaryRequired, additionalProperties: false } as const;

export const gatewayDetailSchema = {
  type: 'object',
  properties: {
    ...gatewaySummaryProperties,
    healthReport: { type: orNull('object'), additionalProperties: true, description: 'the latest health report as the gateway sent it' },
    updateSteps: {
      type: 'array',
      description: 'model update steps as the gateway reported them, newest first',
      items: {
        type: 'object',
        properties: {
          model: { type: orNull('string') },
          target: { type: 'string' },
          release: { type: orNull('integer') },
          version: { type: orNull('string') },
          step: { type: 'string' },
          outcome: { type: 'string' },
          reason: { type: orNull('string') },
          ts: { type: 'number' },
          receivedMs: { type: 'number' },
          shadow: { type: 'object', additionalProperties: true, description: 'on a shadow step: how the candidate compared with the active model (agreement, latency, errors)' },
        },
        required: ['model', 'target', 'release', 'version', 'step', 'outcome', 'reason', 'ts', 'receivedMs'],
      },
    },
  },
  required: [...summaryRequired, 'healthReport', 'updateSteps'],
  additionalProperties: false,
} as const;

const idParams = { type: 'object', properties: { id: gatewayIdSchema }, required: ['id'], additionalProperties: false } as const;

const selectorQuery = {
  selector: { type: 'string', maxLength: 4096, description: 'a label selector: site=plant-2,line in (press,paint),env!=test,!canary,gpu' },
  site: { type: 'string', maxLength: 64 },
} as const;

export const listGatewaysSchema = {
  tags: TAGS,
  summary: 'List gateways',
  description: `Gateways in id order, a page at a time (default ${DEFAULT_PAGE_LIMIT}); \`next\` is the \`after\` of the next page.`,
  querystring: {
    type: 'object',
    properties: {
      ...selectorQuery,
      status: { type: 'string', enum: GATEWAY_STATUSES },
      model: { ...modelNameSchema, description: 'a model name: gateways running any release of it (with release: that release)' },
      release: { type: 'integer', minimum: 1, maximum: 9_007_199_254_740_991, description: 'a release number: with model, gateways whose active release of that model is this one' },
      after: { ...gatewayIdSchema, description: 'a gateway id, the `next` of the previous page: gateways with ids after it' },
      limit: limitSchema,
    },
    additionalProperties: false,
  },
  response: {
    200: { type: 'object', properties: { items: { type: 'array', items: gatewaySummarySchema }, next: nextCursorSchema }, required: ['items', 'next'], additionalProperties: false },
    ...problemResponses,
  },
} as const;

export const gatewayCountsSchema = {
  tags: TAGS,
  summary: 'Count gateways per status',
  querystring: { type: 'object', properties: selectorQuery, additionalProperties: false },
  response: {
    200: {
      type: 'object',
      properties: { total: { type: 'integer' }, online: { type: 'integer' }, offline: { type: 'integer' }, degraded: { type: 'integer' }, 'never-seen': { type: 'integer' }, revoked: { type: 'integer' } },
      required: ['total', 'online', 'offline', 'degraded', 'never-seen', 'revoked'],
      additionalProperties: false,
    },
    ...problemResponses,
  },
} as const;

export const getGatewaySchema = {
  tags: TAGS,
  summary: 'One gateway in detail',
  params: idParams,
  querystring: noQuerySchema,
  response: { 200: gatewayDetailSchema, ...problemResponses },
} as const;

/** Samples a metrics reply holds at most (a day at one a minute is 1,440). */
export const METRICS_LIMIT_MAX = 10_000;
export const METRICS_LIMIT_DEFAULT = 1440;

const countOrNull = { type: orNull('integer'), minimum: 0 } as const;

export const gatewayMetricsSchema = {
  tags: TAGS,
  summary: 'A gateway\'s metrics history, sampled from its health reports',
  description: 'At most one sample per minute from the gateway\'s health reports, kept 24 h by default (edgewise fleet --metrics-retention-hours), oldest first: the newest `limit` samples in [from, to). Counters are the gateway\'s totals since its process started (rates are differences of successive samples; a drop means it restarted). `ts` is when the fleet received the report. A field the report did not carry is null.',
  params: idParams,
  querystring: {
    type: 'object',
    properties: {
      from: { ...msSchema, description: 'samples at or after this time (ms since 1970)' },
      to: { ...msSchema, description: 'samples before this time (ms since 1970)' },
      limit: { type: 'integer', minimum: 1, maximum: METRICS_LIMIT_MAX, description: `the newest this many samples (default ${METRICS_LIMIT_DEFAULT}, at most ${METRICS_LIMIT_MAX})` },
    },
    additionalProperties: false,
  },
  response: {
    200: {
      type: 'object',
      properties: {
        items: {
          type: 'array',
          items: {
            type: 'object',
            properties: {
              ts: { type: 'integer', description: 'when the fleet received the report' },
              status: { type: 'string', description: 'the report\'s status: ok or degraded' },
              rssBytes: countOrNull,
              storeBytes: { ...countOrNull, description: 'bytes in the gateway\'s outbox, every class' },
              storeRecords: { ...countOrNull, description: 'records in the gateway\'s outbox, every class' },
              publishedRecords: countOrNull,
              ackedRecords: countOrNull,
              inFlightMessages: countOrNull,
              droppedRecords: { ...countOrNull, description: 'records the gateway lost: evicted from its outbox over budget, refused, dropped at full pipeline queues or by its sources' },
              uplinkConnected: { type: orNull('boolean') },
            },
            required: ['ts', 'status', 'rssBytes', 'storeBytes', 'storeRecords', 'publishedRecords', 'ackedRecords', 'inFlightMessages', 'droppedRecords', 'uplinkConnected'],
            additionalProperties: false,
          },
        },
      },
      required: ['items'],
      additionalProperties: false,
    },
    ...problemResponses,
  },
} as const;

export const provisionSchema = {
  tags: TAGS,
  summary: 'Provision a gateway',
  description: 'Creates the gateway\'s identity and MQTT credentials, shown in this reply only. With replace, a known gateway gets new credentials and its revocation is lifted.',
  querystring: noQuerySchema,
  body: {
    type: 'object',
    description: 'a JSON object with id, and optionally site, labels and replace',
    properties: {
      id: gatewayIdSchema,
      site: { type: 'string', maxLength: 64, description: 'a site name of at most 64 characters (default: the site label, or empty)' },
      labels: labelsSchema,
      replace: { type: 'boolean', description: 'true or false: true issues new credentials to a gateway that exists' },
    },
    required: ['id'],
    additionalProperties: false,
  },
  response: {
    201: {
      type: 'object',
      properties: {
        gateway: gatewayDetailSchema,
        replaced: { type: 'boolean', description: 'true when the gateway existed and got new credentials' },
        credentials: {
          type: 'object',
          properties: { username: { type: 'string' }, password: { type: 'string', description: 'shown once; the fleet keeps only hashes' }, clientId: { type: 'string' } },
          required: ['username', 'password', 'clientId'],
          additionalProperties: false,
        },
        brokerUrl: { type: 'string' },
        config: { type: 'string', description: 'the uplink (and updates) sections of the gateway config, as YAML' },
        root: { type: orNull('object'), additionalProperties: true, description: 'the TUF root.json the gateway pins; null when the fleet has no repository' },
      },
      required: ['gateway', 'replaced', 'credentials', 'brokerUrl', 'config', 'root'],
      additionalProperties: false,
    },
    ...problemResponses,
  },
} as const;

export const revokeGatewaySchema = {
  tags: TAGS,
  summary: 'Revoke a gateway',
  description: 'It can no longer connect, and its live session is dropped. Provision it again with replace to readmit it.',
  params: idParams,
  querystring: noQuerySchema,
  body: emptyBodySchema,
  response: { 200: gatewayDetailSchema, ...problemResponses },
} as const;
