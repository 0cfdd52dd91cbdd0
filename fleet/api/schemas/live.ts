import { problemResponses } from '../problem.js';
import { noQuerySchema } from './common.js';

export const liveSchema = {
  tags: ['live'],
  summary: 'What changes in the fleet, as it happens (server-sent events)',
  description: [
    'A text/event-stream, authorised by the same bearer token as every route (read it with fetch streaming; EventSource cannot send the header).',
    'Events, each with its JSON on one data line:',
    '`hello` {"serverTimeMs":N} at once;',
    '`gateways` {"items":[...]}: gateways whose summary changed (status, health, releases, last seen, provisioned, revoked), each an item of GET /v1/gateways, each gateway at most once per batch, at most one batch a second;',
    '`event`: an alert or event (kinds alert and event) just stored, an item of GET /v1/events;',
    '`rollout`: a rollout decision, an item of GET /v1/rollout-events;',
    '`learning` {"taskId":"...","round":N|null}: a task was created, stopped or finished (round null), or a round opened or closed;',
    '`resync` {"reason":"..."}: this client missed changes (it read too slowly, or the fleet lost track): refetch everything.',
    'A comment line every 15 s keeps proxies from closing it. At most 64 streams at once (503 E_TOO_MANY_STREAMS).',
    'Gateways, events and learning come from this fleet instance (what its ingest commits and its API changes); rollout decisions are read from the database, so every instance shows them.',
  ].join(' '),
  querystring: noQuerySchema,
  response: { ...problemResponses },
} as const;
