import { EVENT_KINDS } from '../../events/event-store.js';
import { problemResponses } from '../problem.js';
import { MAX_RECORD_ID_LENGTH } from '../../protocol/record.js';
import { gatewayIdSchema, limitSchema, modelNameSchema, msSchema, nextCursorSchema, noQuerySchema, orNull } from './common.js';

export const eventSchema = {
  type: 'object',
  properties: {
    gatewayId: { type: 'string' },
    recordId: { type: 'string' },
    kind: { type: 'string', enum: EVENT_KINDS, description: 'alert; event (a result naming an event); summary (other results)' },
    class: { type: 'string' },
    stream: { type: 'string' },
    model: { type: orNull('string') },
    ts: { type: 'number', description: 'the gateway\'s timestamp (ms since 1970)' },
    receivedMs: { type: 'number' },
    data: { description: 'the record\'s data as the gateway sent it' },
  },
  required: ['gatewayId', 'recordId', 'kind', 'class', 'stream', 'model', 'ts', 'receivedMs', 'data'],
  additionalProperties: false,
} as const;

export const listEventsSchema = {
  tags: ['events'],
  summary: 'Query alerts, events and summaries',
  description: 'Newest first (by gateway timestamp), a page at a time; `next` is the `before` of the next page.',
  querystring: {
    type: 'object',
    properties: {
      gateway: gatewayIdSchema,
      kind: { type: 'string', enum: EVENT_KINDS },
      model: modelNameSchema,
      stream: { type: 'string', minLength: 1, maxLength: 128 },
      from: { ...msSchema, description: 'milliseconds since 1970 UTC: events at or after this time' },
      to: { ...msSchema, description: 'milliseconds since 1970 UTC: events before this time' },
      before: { type: 'string', pattern: '^[A-Za-z0-9_-]{1,1024}$', description: 'a cursor: the `next` of the previous page, unchanged' },
      limit: limitSchema,
    },
    additionalProperties: false,
  },
  response: {
    200: { type: 'object', properties: { items: { type: 'array', items: eventSchema }, next: nextCursorSchema }, required: ['items', 'next'], additionalProperties: false },
    ...problemResponses,
  },
} as const;

export const getEventSchema = {
  tags: ['events'],
  summary: 'One alert, event or summary',
  description: 'By the gateway that sent it and its record id (what the list and the live stream give): a link to one event stays valid until the retention policy sweeps it.',
  params: {
    type: 'object',
    properties: { gateway: gatewayIdSchema, recordId: { type: 'string', minLength: 1, maxLength: MAX_RECORD_ID_LENGTH, description: 'a record id of 1 to 64 characters' } },
    required: ['gateway', 'recordId'],
    additionalProperties: false,
  },
  querystring: noQuerySchema,
  response: { 200: eventSchema, ...problemResponses },
} as const;
