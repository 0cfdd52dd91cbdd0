import { TASK_ID_PATTERN } from '../../protocol/federated/update-encoding.js';
import { problemResponses } from '../problem.js';
import { emptyBodySchema, limitSchema, noQuerySchema, orNull } from './common.js';
import { rolloutSpecSchema } from './rollouts.js';

const TAGS = ['learning'];
const STATES = ['active', 'stopped', 'finished'] as const;
const OUTCOMES = ['open', 'model', 'no-model', 'abandoned'] as const;
const MAX_ROUNDS = 1_000_000;
const WEEK_MS = 7 * 24 * 3600 * 1000;

export const taskIdSchema = { type: 'string', pattern: TASK_ID_PATTERN, description: 'a task id: 1-64 letters, digits, ".", "_" or "-", starting with a letter or digit' } as const;

const globalModelSchema = {
  type: 'object',
  description: 'a release of the model in the TUF repository, as round announcements name it',
  properties: {
    name: { type: 'string' },
    release: { type: 'integer' },
    version: { type: 'string' },
    sha256: { type: 'string' },
    fetch: { type: 'object', properties: { type: { type: 'string' }, target: { type: 'string' } }, required: ['type', 'target'], additionalProperties: false },
  },
  required: ['name', 'release', 'version', 'sha256', 'fetch'],
  additionalProperties: false,
} as const;

const taskSchema = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    state: { type: 'string', enum: STATES, description: 'active: rounds run; stopped: by an operator or an error (reason); finished: its rounds are done or its privacy budget is spent (reason)' },
    reason: { type: orNull('string') },
    createdMs: { type: 'number' },
    updatedMs: { type: 'number' },
    definition: { type: 'object', additionalProperties: true, description: 'the task as checked, defaults filled in (fleet/federated/README.md, "The task")' },
    schedule: {
      type: 'object',
      properties: { rounds: { type: orNull('integer') }, roundIntervalMs: { type: 'integer' }, rollout: { type: orNull('object'), additionalProperties: true, description: 'the rollout plan each released model goes out with (null: none)' } },
      required: ['rounds', 'roundIntervalMs', 'rollout'],
      additionalProperties: false,
    },
    globalModel: { ...globalModelSchema, description: 'the release the next round starts from' },
    nextRound: { type: 'integer' },
    roundsClosed: { type: 'integer' },
    privacyHistory: { type: 'array', items: { type: 'object', additionalProperties: true }, description: 'rounds of privacy spent, per mechanism (empty without privacy)' },
  },
  required: ['id', 'state', 'reason', 'createdMs', 'updatedMs', 'definition', 'schedule', 'globalModel', 'nextRound', 'roundsClosed', 'privacyHistory'],
  additionalProperties: false,
} as const;

const roundSchema = {
  type: 'object',
  properties: {
    task: { type: 'string' },
    round: { type: 'integer' },
    openedMs: { type: 'number' },
    deadlineMs: { type: 'number' },
    closedMs: { type: orNull('number') },
    outcome: { type: 'string', enum: OUTCOMES, description: 'open: taking updates; model / no-model: closed (the record says why); abandoned: the fleet stopped or the task was stopped while it was open' },
    globalModel: { ...globalModelSchema, description: 'the release the round started from' },
    sampled: { type: 'integer', description: 'gateways drawn into the round' },
    participants: { type: 'integer', description: 'accepted updates' },
    meanValidationLoss: { type: orNull('number'), description: 'the mean of the local validation losses the participants reported' },
    epsilonSpent: { type: orNull('number'), description: 'differential privacy: epsilon spent by the task after this round, at its delta' },
    released: { ...globalModelSchema, type: orNull('object'), description: 'the new global model, when the round made one and it was released' },
    releaseError: { type: orNull('string') },
    record: {
      type: orNull('object'),
      additionalProperties: true,
      description: 'the round record: participants, eligible and drawn counts, rejections by reason, clipped updates, validation losses, late updates, the rule, the privacy spent, the outcome (fleet/federated/README.md, "The record")',
    },
  },
  required: ['task', 'round', 'openedMs', 'deadlineMs', 'closedMs', 'outcome', 'globalModel', 'sampled', 'participants', 'meanValidationLoss', 'epsilonSpent', 'released', 'releaseError', 'record'],
  additionalProperties: false,
} as const;

const idParams = { type: 'object', properties: { id: taskIdSchema }, required: ['id'], additionalProperties: false } as const;

export const createTaskSchema = {
  tags: TAGS,
  summary: 'Create a federated learning task',
  description: 'Checks the task definition (400 naming the field), finds the release of its model to start from, stores the task and opens its first round.',
  querystring: noQuerySchema,
  body: {
    type: 'object',
    properties: {
      task: { type: 'object', additionalProperties: true, description: 'the task definition: id, model, gatewaySelector (label selector text or an object of labels), strategy, localEpochs, learningRate, clipNorm, minClients, samplingShare, deadlineMs, and optionally lateUpdates, privacy, quantisation' },
      initialRelease: { type: 'integer', minimum: 1, maximum: 9_007_199_254_740_991, description: 'the release of the task\'s model the first round starts from (default: the newest)' },
      rounds: { type: orNull('integer'), minimum: 1, maximum: MAX_ROUNDS, description: `rounds to run, 1-${MAX_ROUNDS}; null or absent: until stopped or the privacy budget is spent` },
      roundIntervalMs: { type: 'integer', minimum: 0, maximum: WEEK_MS, description: 'milliseconds between a round\'s close and the next opening (default 0)' },
      rollout: { ...rolloutSpecSchema, description: 'roll each round\'s released model out with this plan (health and quality gates as any rollout); a release made while an earlier one of the model is still rolling out (running or paused) is not rolled out' },
    },
    required: ['task'],
    additionalProperties: false,
  },
  response: { 201: taskSchema, ...problemResponses },
} as const;

export const listTasksSchema = {
  tags: TAGS,
  summary: 'List federated learning tasks',
  description: 'Tasks in id order, a page at a time (default 100); `next` is the `after` of the next page.',
  querystring: {
    type: 'object',
    properties: { state: { type: 'string', enum: STATES }, after: { ...taskIdSchema, description: 'a task id, the `next` of the previous page' }, limit: limitSchema },
    additionalProperties: false,
  },
  response: { 200: { type: 'object', properties: { items: { type: 'array', items: taskSchema }, next: { type: orNull('string') } }, required: ['items', 'next'], additionalProperties: false }, ...problemResponses },
} as const;

export const getTaskSchema = { tags: TAGS, summary: 'One federated learning task', params: idParams, querystring: noQuerySchema, response: { 200: taskSchema, ...problemResponses } } as const;

export const stopTaskSchema = {
  tags: TAGS,
  summary: 'Stop a federated learning task',
  description: 'Its open round is abandoned and its announcement cleared; 409 unless it is active.',
  params: idParams,
  querystring: noQuerySchema,
  body: emptyBodySchema,
  response: { 200: taskSchema, ...problemResponses },
} as const;

export const listRoundsSchema = {
  tags: TAGS,
  summary: 'A task\'s rounds',
  description: 'Newest first, a page at a time (default 100); `next` is the `before` of the next page.',
  params: idParams,
  querystring: {
    type: 'object',
    properties: { before: { type: 'integer', minimum: 1, maximum: 9_007_199_254_740_991, description: 'a round number, the `next` of the previous page: rounds before it' }, limit: limitSchema },
    additionalProperties: false,
  },
  response: { 200: { type: 'object', properties: { items: { type: 'array', items: roundSchema }, next: { type: orNull('integer') } }, required: ['items', 'next'], additionalProperties: false }, ...problemResponses },
} as const;

export const getRoundSchema = {
  tags: TAGS,
  summary: 'One round of a task, with its record',
  params: { type: 'object', properties: { id: taskIdSchema, round: { type: 'integer', minimum: 1, maximum: 9_007_199_254_740_991 } }, required: ['id', 'round'], additionalProperties: false },
  querystring: noQuerySchema,
  response: { 200: roundSchema, ...problemResponses },
} as const;
