import { schema } from 'tjs';
import { LEARNING_TASK_PATTERN } from '../topics.js';
import { checkSchema, invalid, readControlJson, writeControlJson } from './control-json.js';
import { MAX_SCALE } from './quantize.js';

/**
 * The open round of a federated task, as the fleet announces it to every gateway: the retained
 * JSON message on `edgewise/v1/fleet/learning/{task}/announcement`. It carries everything a drawn
 * gateway needs to train and send, and names NO gateway: who was drawn is told to each drawn
 * gateway alone (invitation.ts), so that the sample stays secret, as the privacy accounting
 * assumes. The fleet's typed value is fleet/federated/round/announcement.ts; this is its wire form.
 */
export interface RoundAnnouncementMessage {
  readonly v: 1;
  readonly task: string;
  /** A counter per task; an update answers exactly one round (update-encoding.ts `round`). */
  readonly round: number;
  /** The global model the gateways start from and send a delta against. */
  readonly model: GlobalModelRef;
  readonly localEpochs: number;
  readonly learningRate: number;
  /** Gateways clip what they send (delta plus error-feedback residual) to this L2 norm. */
  readonly clipNorm: number;
  /** FedProx: mu of the proximal term mu/2 ||w - w_global||^2 in local training; null: none. */
  readonly proximalMu: number | null;
  readonly quantisation: AnnouncedQuantisation;
  readonly secureAggregation: boolean;
  /** On the fleet's clock, ms since 1970-01-01 UTC; an update must be complete on the fleet before `deadlineAtMs`. */
  readonly openedAtMs: number;
  readonly deadlineAtMs: number;
}

/**
 * A release of the model in the fleet's TUF repository: the gateway fetches `fetch.target` with
 * its TUF client (signed, so a forged announcement can at most point at a real release) and
 * checks the file's SHA-256 against `sha256` before training on it.
 */
export interface GlobalModelRef {
  readonly name: string;
  readonly release: number;
  readonly version: string;
  /** Lower-case hex SHA-256 of the model file. */
  readonly sha256: string;
  readonly fetch: { readonly type: 'tuf'; readonly target: string };
}

/**
 * Dense int8 (quantize.ts), with one shared scale when the round has one (secure aggregation
 * needs it: masked integers are summed, so every gateway must use the same scale), or top-k with
 * the share of each tensor sent (sparsify.ts).
 */
export type AnnouncedQuantisation = { readonly type: 'int8'; readonly scale: number | null } | { readonly type: 'top-k'; readonly density: number };

export const ANNOUNCEMENT_VERSION = 1;
export const MAX_ANNOUNCEMENT_BYTES = 4096;

/**
 * Bounds of the numbers. The same as the fleet's task checks (fleet/federated/round/limits.ts,
 * strategies/fedprox.ts and clip.ts), repeated here because fleet/protocol imports nothing of
 * the project; the round tests encode every announcement the fleet makes, so a drift shows.
 */
export const ANNOUNCEMENT_LIMITS = {
  maxLocalEpochs: 1000,
  maxLearningRate: 10,
  minClipNorm: 1e-9,
  maxClipNorm: 1e9,
  maxProximalMu: 10,
  /** A round lasts at least a second (an upload over MQTT takes that) and at most a week. */
  minRoundMs: 1000,
  maxRoundMs: 7 * 24 * 3600 * 1000,
  /** Timestamps: ms since the epoch, as far as a JavaScript Date reaches. */
  maxTimeMs: 8.64e15,
} as const;

const L = ANNOUNCEMENT_LIMITS;
const time = { type: 'integer', minimum: 0, maximum: L.maxTimeMs } as const;

export const roundAnnouncementSchema = {
  type: 'object',
  properties: {
    v: { const: ANNOUNCEMENT_VERSION },
    task: { type: 'string', pattern: LEARNING_TASK_PATTERN, description: `a task id (${LEARNING_TASK_PATTERN})` },
    round: { type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER },
    model: {
      type: 'object',
      properties: {
        name: { type: 'string', pattern: '^[a-z0-9][a-z0-9._-]{0,63}$', description: 'a model name (lower-case letters, digits, ".", "_", "-")' },
        release: { type: 'integer', minimum: 1, maximum: Number.MAX_SAFE_INTEGER },
        version: { type: 'string', minLength: 1, maxLength: 32 },
        sha256: { type: 'string', pattern: '^[0-9a-f]{64}$', description: '64 lower-case hex digits' },
        fetch: {
          type: 'object',
          properties: {
            type: { enum: ['tuf'] },
            target: { type: 'string', pattern: '^[A-Za-z0-9._/-]{1,200}$', description: 'a target path in the TUF repository' },
          },
          required: ['type', 'target'],
          additionalProperties: false,
        },
      },
      required: ['name', 'release', 'version', 'sha256', 'fetch'],
      additionalProperties: false,
    },
    localEpochs: { type: 'integer', minimum: 1, maximum: L.maxLocalEpochs },
    learningRate: { type: 'number', exclusiveMinimum: 0, maximum: L.maxLearningRate },
    clipNorm: { type: 'number', minimum: L.minClipNorm, maximum: L.maxClipNorm },
    proximalMu: { type: ['number', 'null'] as ['number', 'null'], exclusiveMinimum: 0, maximum: L.maxProximalMu },
    quantisation: {
      type: 'object',
      properties: {
        type: { enum: ['int8', 'top-k'] },
        /** int8 only: the shared scale, a float32 > 0, or null for a scale per tensor and gateway. */
        scale: { type: ['number', 'null'] as ['number', 'null'], exclusiveMinimum: 0, maximum: MAX_SCALE },
        /** top-k only: the share of each tensor sent. */
        density: { type: 'number', exclusiveMinimum: 0, exclusiveMaximum: 1 },
      },
      required: ['type'],
      additionalProperties: false,
    },
    secureAggregation: { type: 'boolean' },
    openedAtMs: time,
    deadlineAtMs: time,
  },
  required: ['v', 'task', 'round', 'model', 'localEpochs', 'learningRate', 'clipNorm', 'proximalMu', 'quantisation', 'secureAggregation', 'openedAtMs', 'deadlineAtMs'],
  additionalProperties: false,
} as const;

const validator = schema(roundAnnouncementSchema);
const WHAT = 'round announcement';

/** Checks what the schema cannot say: the quantisation's shape by type, secure rounds, the round's length. */
function checkAcrossFields(v: Record<string, unknown>): void {
  const q = v['quantisation'] as Record<string, unknown>;
  if (q['type'] === 'int8') {
    if ('density' in q) throw invalid(WHAT, 'quantisation.density', 'only top-k has a density (int8 sends every value)');
    if (!('scale' in q)) throw invalid(WHAT, 'quantisation.scale', 'expected a float32 > 0 or null (required for int8)');
    const scale = q['scale'];
    if (typeof scale === 'number' && Math.fround(scale) !== scale) throw invalid(WHAT, 'quantisation.scale', `expected a float32 value, got ${scale}`);
  } else {
    if ('scale' in q) throw invalid(WHAT, 'quantisation.scale', 'top-k has a scale per tensor, not a shared one');
    if (!('density' in q)) throw invalid(WHAT, 'quantisation.density', 'expected a number > 0 and < 1 (required for top-k)');
  }
  if (v['secureAggregation'] === true && (q['type'] !== 'int8' || q['scale'] === null)) {
    throw invalid(WHAT, 'quantisation', 'secure aggregation needs int8 with a shared scale (masked integers are summed, so every gateway must use the same scale)');
  }
  const length = (v['deadlineAtMs'] as number) - (v['openedAtMs'] as number);
  if (length < L.minRoundMs || length > L.maxRoundMs) {
    throw invalid(WHAT, 'deadlineAtMs', `expected ${L.minRoundMs} ms to ${L.maxRoundMs} ms after openedAtMs, got ${length} ms`);
  }
}

function check(value: unknown): RoundAnnouncementMessage {
  checkSchema(validator, roundAnnouncementSchema, value, WHAT);
  checkAcrossFields(value as Record<string, unknown>);
  return value as RoundAnnouncementMessage;
}

/** The announcement's bytes, checked as a receiver would check them (the fleet never publishes what a gateway refuses). */
export function encodeRoundAnnouncement(a: RoundAnnouncementMessage): Uint8Array {
  return writeControlJson(check(JSON.parse(JSON.stringify(a)) as unknown), WHAT, MAX_ANNOUNCEMENT_BYTES);
}

/** Reads an announcement; anything wrong is a ProtocolError naming the field (`round announcement.quantisation.density: ...`). */
export function decodeRoundAnnouncement(bytes: Uint8Array): RoundAnnouncementMessage {
  return check(readControlJson(bytes, WHAT, MAX_ANNOUNCEMENT_BYTES));
}
