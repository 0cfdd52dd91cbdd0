import { schema } from 'tjs';
import { GATEWAY_ID_PATTERN, LEARNING_TASK_PATTERN } from '../topics.js';
import { checkSchema, invalid, readControlJson, writeControlJson } from './control-json.js';

/**
 * To one drawn gateway, on its own `edgewise/v1/gw/{id}/learning-invitation` (which only it may
 * read): you are in this round of this task. The round's parameters are in the task's retained
 * announcement; the invitation only says who was drawn, which nobody else learns.
 *
 * `nonce` (16 random bytes, hex) makes each invitation one of a kind: QoS 1 may deliver it twice
 * and a persistent session may deliver it after a reconnect, and a gateway trains once per
 * (task, round, nonce) it was handed, however often it sees the message.
 */
export interface RoundInvitationMessage {
  readonly v: 1;
  readonly task: string;
  readonly round: number;
  /** The invited gateway: a receiver refuses an invitation that names another (see decodeRoundInvitation). */
  readonly gateway: string;
  readonly nonce: string;
}

export const INVITATION_VERSION = 1;
export const MAX_INVITATION_BYTES = 1024;
export const INVITATION_NONCE_PATTERN = '^[0-9a-f]{32}$';

export const roundInvitationSchema = {
  type: 'object',
  properties: {
    v: { const: INVITATION_VERSION },
    task: { type: 'string', pattern: LEARNING_TASK_PATTERN, description: `a task id (${LEARNING_TASK_PATTERN})` },
    round: { type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER },
    gateway: { type: 'string', pattern: GATEWAY_ID_PATTERN, description: `a gateway id (${GATEWAY_ID_PATTERN})` },
    nonce: { type: 'string', pattern: INVITATION_NONCE_PATTERN, description: '32 lower-case hex digits (16 random bytes)' },
  },
  required: ['v', 'task', 'round', 'gateway', 'nonce'],
  additionalProperties: false,
} as const;

const validator = schema(roundInvitationSchema);
const WHAT = 'round invitation';

function check(value: unknown, expectedGateway: string | undefined): RoundInvitationMessage {
  checkSchema(validator, roundInvitationSchema, value, WHAT);
  const m = value as RoundInvitationMessage;
  if (expectedGateway !== undefined && m.gateway !== expectedGateway) throw invalid(WHAT, 'gateway', `addressed to ${JSON.stringify(m.gateway)}, not to ${JSON.stringify(expectedGateway)}`);
  return m;
}

export function encodeRoundInvitation(m: RoundInvitationMessage): Uint8Array {
  return writeControlJson(check(JSON.parse(JSON.stringify(m)) as unknown, undefined), WHAT, MAX_INVITATION_BYTES);
}

/**
 * Reads an invitation. `expectedGateway`: the receiving gateway's own id (from the topic it
 * subscribed to); an invitation naming another gateway is refused, so a misrouted one is never
 * acted on.
 */
export function decodeRoundInvitation(bytes: Uint8Array, expectedGateway?: string): RoundInvitationMessage {
  return check(readControlJson(bytes, WHAT, MAX_INVITATION_BYTES), expectedGateway);
}
