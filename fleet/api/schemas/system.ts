import { problemResponses } from '../problem.js';
import { noQuerySchema, orNull } from './common.js';

const TAGS = ['system'];


export const serviceHealthSchema = {
  type: 'object',
  properties: {
    status: { type: 'string', enum: ['ok', 'degraded'] },
    broker: { type: 'object', properties: { ok: { type: 'boolean' }, detail: { type: 'string' } }, required: ['ok', 'detail'], additionalProperties: false },
    database: {
      type: 'object',
      properties: { ok: { type: 'boolean' }, latencyMs: { type: orNull('number') }, detail: { type: 'string' } },
      required: ['ok', 'latencyMs', 'detail'],
      additionalProperties: false,
    },
    ingest: {
      type: 'object',
      properties: { ok: { type: 'boolean' }, queued: { type: 'integer' }, lagMs: { type: orNull('number') }, detail: { type: 'string' } },
      required: ['ok', 'queued', 'lagMs', 'detail'],
      additionalProperties: false,
    },
  },
  required: ['status', 'broker', 'database', 'ingest'],
  additionalProperties: false,
} as const;

export const healthSchema = {
  tags: TAGS,
  summary: 'Service health',
  description: '200 when everything is ok, 503 when something is degraded (the body says what).',
  querystring: noQuerySchema,
  response: { 200: serviceHealthSchema, 503: serviceHealthSchema, ...problemResponses },
} as const;

export const metricsSchema = {
  tags: TAGS,
  summary: 'Prometheus metrics',
  querystring: noQuerySchema,
  response: {
    200: { description: 'Prometheus text exposition format', content: { 'text/plain': { schema: { type: 'string' } } } },
    ...problemResponses,
  },
} as const;

export const openApiSchema = {
  tags: TAGS,
  summary: 'This API as an OpenAPI 3.1 document',
  querystring: noQuerySchema,
  response: { 200: { type: 'object', additionalProperties: true, description: 'the OpenAPI document' }, ...problemResponses },
} as const;
