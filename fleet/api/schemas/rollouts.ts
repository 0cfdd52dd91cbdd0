import { problemResponses } from '../problem.js';
import { emptyBodySchema, gatewayIdSchema, noQuerySchema, orNull } from './common.js';

const TAGS = ['rollouts'];
const share = { type: 'number', minimum: 0, maximum: 1 } as const;
const selectorText = { type: 'string', minLength: 1, maxLength: 4096, pattern: '\\S', description: 'a label selector: site=plant-2,line in (press,paint),!canary' } as const;
const STATES = ['running', 'rolling-back', 'paused', 'aborted', 'completed'] as const;

const rolloutSelectorSchema = {
  description: 'which gateways: {"kind":"all"}, {"kind":"labels","selector":"site=plant-2"} or {"kind":"ids","ids":["gw-1"]}',
  oneOf: [
    { type: 'object', properties: { kind: { const: 'all' } }, required: ['kind'], additionalProperties: false },
    { type: 'object', properties: { kind: { const: 'labels' }, selector: selectorText }, required: ['kind', 'selector'], additionalProperties: false },
    { type: 'object', properties: { kind: { const: 'ids' }, ids: { type: 'array', items: gatewayIdSchema, minItems: 1, maxItems: 10_000 } }, required: ['kind', 'ids'], additionalProperties: false },
  ],
} as const;

const waveSchema = {
  description: 'a wave: {"kind":"count","count":5} (the next 5), {"kind":"share","share":0.1} (up to 10% of all, cumulative) or {"kind":"labels","selector":"site=plant-1"}',
  oneOf: [
    { type: 'object', properties: { kind: { const: 'count' }, count: { type: 'integer', minimum: 1, maximum: 1_000_000 } }, required: ['kind', 'count'], additionalProperties: false },
    { type: 'object', properties: { kind: { const: 'share' }, share: { type: 'number', exclusiveMinimum: 0, maximum: 1 } }, required: ['kind', 'share'], additionalProperties: false },
    { type: 'object', properties: { kind: { const: 'labels' }, selector: selectorText }, required: ['kind', 'selector'], additionalProperties: false },
  ],
} as const;

const gatesSchema = {
  type: 'object',
  description: 'health gates between waves: shares of the wave\'s gateways that were told',
  properties: { maxFailureShare: share, maxRollbackShare: share, maxTimeoutShare: share },
  additionalProperties: false,
} as const;

const qualitySchema = {
  type: 'object',
  description: 'quality gates measured in shadow: each wave first runs the release beside the active model on every gateway (inferences runs or maxMs), and activates it only when the reports pass',
  properties: {
    inferences: { type: 'integer', minimum: 1, maximum: 1_000_000, description: 'runs of the candidate asked of each gateway (default 200)' },
    maxMs: { type: 'integer', minimum: 1000, maximum: 86_400_000, description: 'the longest a shadow may take (default 10 min)' },
    minInferences: { type: 'integer', minimum: 0, maximum: 1_000_000, description: 'fewer runs than this on a gateway is no evidence: it fails (default half of inferences)' },
    minAgreement: { ...share, description: 'anomaly: alert agreement; vision: F1 of the detections at IoU 0.5 (default 0.9)' },
    minScoreCorrelation: { type: orNull('number'), minimum: -1, maximum: 1, description: 'anomaly: correlation of the two models\' scores (default null: not gated; on normal running the scores are mostly noise, so gate on it only where the shadow sees real events)' },
    minClassAgreement: { type: orNull('number'), minimum: 0, maximum: 1, description: 'vision: share of matched detections with the same class (default 0.9; null: not gated)' },
    maxLatencyP99Ms: { type: orNull('number'), exclusiveMinimum: 0, description: 'the candidate\'s p99 latency per run (default: the release\'s latency budget)' },
    maxErrorShare: { ...share, description: 'runs that threw, as a share of runs (default 0)' },
    maxEvaluationDrop: { ...share, description: 'a release with a labelled evaluation set is judged on it instead of on agreement: how far its score on it (anomaly: ROC AUC; vision: detection F1 at IoU 0.5) may fall below the active model\'s on a gateway (default 0: no worse)' },
    maxFailShare: { ...share, description: 'share of a wave\'s gateways allowed to fail the above (default 0)' },
  },
  additionalProperties: false,
} as const;

const windowSchema = {
  type: 'object',
  description: 'gateways matching selector are told only between from and to (HH:MM local time in timeZone; 22:00-05:00 spans midnight)',
  properties: {
    selector: selectorText,
    from: { type: 'string', pattern: '^([01]\\d|2[0-3]):[0-5]\\d$' },
    to: { type: 'string', pattern: '^([01]\\d|2[0-3]):[0-5]\\d$' },
    timeZone: { type: 'string', minLength: 1, maxLength: 64, description: 'an IANA time zone: Europe/Berlin, UTC' },
  },
  required: ['selector', 'from', 'to', 'timeZone'],
  additionalProperties: false,
} as const;

const tallySchema = {
  type: 'object',
  properties: {
    total: { type: 'integer' },
    notified: { type: 'integer' },
    active: { type: 'integer' },
    failed: { type: 'integer' },
    rolledBack: { type: 'integer' },
    timedOut: { type: 'integer' },
    offline: { type: 'integer' },
    pending: { type: 'integer' },
    shadowing: { type: 'integer', description: 'told to run the release in shadow, no report yet' },
    shadowed: { type: 'integer', description: 'shadow report in, waiting to be told to activate' },
    reverting: { type: 'integer', description: 'told to switch back to the previous release after a failed gate' },
    reverted: { type: 'integer', description: 'switched back to the previous release' },
  },
  required: ['total', 'notified', 'active', 'failed', 'rolledBack', 'timedOut', 'offline', 'pending', 'shadowing', 'shadowed', 'reverting', 'reverted'],
  additionalProperties: false,
} as const;

const rolloutProperties = {
  id: { type: 'string' },
  name: { type: 'string' },
  target: { type: 'string' },
  model: { type: 'string' },
  release: { type: 'integer' },
  version: { type: 'string' },
  selector: { type: 'object', additionalProperties: true },
  waves: { type: 'array', items: { type: 'object', additionalProperties: true } },
  gates: { type: 'object', properties: { maxFailureShare: { type: 'number' }, maxRollbackShare: { type: 'number' }, maxTimeoutShare: { type: 'number' } }, required: ['maxFailureShare', 'maxRollbackShare', 'maxTimeoutShare'], additionalProperties: false },
  quality: { type: orNull('object'), additionalProperties: true, description: 'the quality gates (null: no shadow)' },
  latencyBudgetMs: { type: 'number', description: 'the release\'s latency budget (the default p99 limit in shadow)' },
  evaluationSet: { type: 'boolean', description: 'the release carries a labelled evaluation set: the quality gate judges it on that (no worse than the active model) instead of on agreement' },
  onGateFailure: { type: 'string', enum: ['pause', 'rollback'], description: 'what a failed gate does: pause, or also switch every gateway the rollout reached back to its previous release' },
  ratePerMinute: { type: 'integer' },
  windows: { type: 'array', items: windowSchema },
  gatewayTimeoutMs: { type: 'integer' },
  probationMs: { type: 'integer' },
  state: { type: 'string', enum: STATES },
  currentWave: { type: 'integer' },
  phase: { type: 'string', enum: ['shadow', 'activate'], description: 'with quality gates: whether the current wave is shadowing the release or activating it' },
  reason: { type: orNull('string') },
  createdMs: { type: 'number' },
  updatedMs: { type: 'number' },
} as const;
const rolloutRequired = Object.keys(rolloutProperties) as (keyof typeof rolloutProperties)[];
const rolloutSchema = { type: 'object', properties: rolloutProperties, required: rolloutRequired, additionalProperties: false } as const;

const statusSchema = {
  type: 'object',
  properties: {
    rollout: rolloutSchema,
    waves: { type: 'array', items: tallySchema, description: 'per wave: where its gateways stand' },
    events: {
      type: 'array',
      description: 'every decision in order: created, wave-started, notified, shadow-passed, wave-passed, gate-failed (with the gates\' numbers), rollback-started, rolled-back, paused, resumed, gate-overridden, aborted, completed',
      items: { type: 'object', properties: { seq: { type: 'integer' }, ts: { type: 'number' }, kind: { type: 'string' }, detail: { type: 'object', additionalProperties: true } }, required: ['seq', 'ts', 'kind', 'detail'], additionalProperties: false },
    },
  },
  required: ['rollout', 'waves', 'events'],
  additionalProperties: false,
} as const;

const idParams = { type: 'object', properties: { id: { type: 'string', pattern: '^ro-[0-9a-f]{12}$', description: 'a rollout id (ro-...)' } }, required: ['id'], additionalProperties: false } as const;

/** A rollout's plan without its release (a federated task keeps one to roll out each round's model). */
export const rolloutSpecSchema = {
  type: 'object',
  description: 'a rollout plan as POST /v1/rollouts takes it, without target and name: selector, waves, and optionally gates, quality, onGateFailure, ratePerMinute, windows, gatewayTimeoutMs',
  properties: {
    selector: rolloutSelectorSchema,
    waves: { type: 'array', items: waveSchema, minItems: 1, maxItems: 20 },
    gates: gatesSchema,
    quality: qualitySchema,
    onGateFailure: { type: 'string', enum: ['pause', 'rollback'] },
    ratePerMinute: { type: 'integer', minimum: 1, maximum: 1_000_000 },
    windows: { type: 'array', items: windowSchema, maxItems: 32 },
    gatewayTimeoutMs: { type: 'integer', minimum: 1000, maximum: 7 * 86_400_000 },
  },
  required: ['selector', 'waves'],
  additionalProperties: false,
} as const;

export const createRolloutSchema = {
  tags: TAGS,
  summary: 'Start a rollout',
  description: 'Plans the waves at once (fixed from then on) and starts the first. The release must be a model release in the fleet\'s TUF repository.',
  querystring: noQuerySchema,
  body: {
    type: 'object',
    description: 'a JSON object: target, selector, waves, and optionally name, gates, quality, onGateFailure, ratePerMinute, windows, gatewayTimeoutMs',
    properties: {
      name: { type: 'string', minLength: 1, maxLength: 128, pattern: '^[^\\u0000-\\u001f\\u007f]+$', description: 'for people (default: model and version)' },
      target: { type: 'string', pattern: '^[A-Za-z0-9._/-]{1,200}$', description: 'the release\'s target path, as GET /v1/releases lists it' },
      selector: rolloutSelectorSchema,
      waves: { type: 'array', items: waveSchema, minItems: 1, maxItems: 20 },
      gates: gatesSchema,
      quality: qualitySchema,
      onGateFailure: { type: 'string', enum: ['pause', 'rollback'], description: 'what a failed gate does (default pause): rollback also switches every gateway the rollout brought the release to back to the one it ran before' },
      ratePerMinute: { type: 'integer', minimum: 1, maximum: 1_000_000, description: 'gateways told per minute at most (default 600)' },
      windows: { type: 'array', items: windowSchema, maxItems: 32 },
      gatewayTimeoutMs: { type: 'integer', minimum: 1000, maximum: 7 * 86_400_000, description: 'a gateway with no outcome this long after its notice counts as timed out (default 30 min)' },
    },
    required: ['target', 'selector', 'waves'],
    additionalProperties: false,
  },
  response: { 201: statusSchema, ...problemResponses },
} as const;

export const previewRolloutSchema = {
  tags: TAGS,
  summary: 'Preview a rollout: the waves it would get, changing nothing',
  description: 'The same body and the same refusals as POST /v1/rollouts (400 naming the field, E_RELEASE_UNKNOWN). The plan is keyed by the release, so the rollout then created with this body tells the same gateways in the same waves (unless gateways are provisioned or revoked in between). Each wave lists at most 100 gateway ids, in id order; `more` counts the rest.',
  querystring: noQuerySchema,
  body: createRolloutSchema.body,
  response: {
    200: {
      type: 'object',
      properties: {
        target: { type: 'string' },
        model: { type: 'string' },
        release: { type: 'integer' },
        total: { type: 'integer', description: 'gateways the rollout would reach' },
        waves: {
          type: 'array',
          items: {
            type: 'object',
            properties: {
              index: { type: 'integer', description: '0-based' },
              size: { type: 'integer', description: 'gateways in the wave' },
              gateways: { type: 'array', items: { type: 'string' }, maxItems: 100, description: 'the first 100 of them in id order' },
              more: { type: 'integer', description: 'gateways of the wave not listed' },
            },
            required: ['index', 'size', 'gateways', 'more'],
            additionalProperties: false,
          },
        },
      },
      required: ['target', 'model', 'release', 'total', 'waves'],
      additionalProperties: false,
    },
    ...problemResponses,
  },
} as const;

export const listRolloutsSchema = {
  tags: TAGS,
  summary: 'List rollouts, newest first',
  querystring: { type: 'object', properties: { state: { type: 'string', enum: STATES } }, additionalProperties: false },
  response: { 200: { type: 'object', properties: { items: { type: 'array', items: rolloutSchema } }, required: ['items'], additionalProperties: false }, ...problemResponses },
} as const;

export const getRolloutSchema = {
  tags: TAGS,
  summary: 'A rollout with its waves and every decision',
  params: idParams,
  querystring: noQuerySchema,
  response: { 200: statusSchema, ...problemResponses },
} as const;

export const moveRolloutSchema = {
  tags: TAGS,
  summary: 'Pause, resume or abort a rollout',
  description: 'pause: running to paused. resume: paused to running (after a failed gate, resuming accepts the wave and goes on to the next). abort: stops for good; gateways that installed the release keep it.',
  params: { type: 'object', properties: { ...idParams.properties, action: { type: 'string', enum: ['pause', 'resume', 'abort'] } }, required: ['id', 'action'], additionalProperties: false },
  querystring: noQuerySchema,
  body: emptyBodySchema,
  response: { 200: statusSchema, ...problemResponses },
} as const;

const eventSchema = {
  type: 'object',
  properties: { seq: { type: 'integer' }, rolloutId: { type: 'string' }, ts: { type: 'number' }, kind: { type: 'string' }, detail: { type: 'object', additionalProperties: true } },
  required: ['seq', 'rolloutId', 'ts', 'kind', 'detail'],
  additionalProperties: false,
} as const;

export const rolloutEventsSchema = {
  tags: TAGS,
  summary: 'Every rollout decision, in order, across rollouts',
  description: 'Decisions after `after` (a seq; 0 for the oldest kept), at most `limit`. `next` is the `after` of the next call. For a live feed, GET /v1/rollout-events/stream.',
  querystring: {
    type: 'object',
    properties: { after: { type: 'integer', minimum: 0, default: 0 }, limit: { type: 'integer', minimum: 1, maximum: 1000, default: 200 } },
    additionalProperties: false,
  },
  response: { 200: { type: 'object', properties: { items: { type: 'array', items: eventSchema }, next: { type: 'integer' } }, required: ['items', 'next'], additionalProperties: false }, ...problemResponses },
} as const;

export const rolloutEventStreamSchema = {
  tags: TAGS,
  summary: 'Rollout decisions as they happen (server-sent events)',
  description:
    'A text/event-stream: each decision is an `event: rollout` whose `id` is its seq and whose `data` is the JSON of GET /v1/rollout-events items; a comment every 15 s keeps proxies from closing it. Reconnect with `Last-Event-ID` (or `after`) to carry on without a gap. Served by every fleet instance from the database, so it shows the decisions of whichever instance leads.',
  querystring: { type: 'object', properties: { after: { type: 'integer', minimum: 0, description: 'start after this seq (default: from now on)' } }, additionalProperties: false },
  response: { ...problemResponses },
} as const;
