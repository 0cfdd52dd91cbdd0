import { secAggRoundId } from '../../protocol/federated/secagg-message.js';
import { MAX_SHARE_HOLDERS, type NeighbourGraph, type RoundParams } from '../../protocol/secure-aggregation/index.js';

/** When a secure round's collection steps end, as shares of the round (opened .. deadline). */
export const SECURE_STEP_SHARES = {
  /** AdvertiseKeys: gateways advertise as soon as they are invited, before training. */
  advertising: 0.15,
  /** ShareKeys: one message each, right after the roster. */
  sharing: 0.3,
  /** MaskedInput: the gateways train in between, so this step gets the most time. */
  masking: 0.85,
  /** UnmaskingResponse: the rest, up to the round's deadline. */
  unmasking: 1,
} as const;

export type SecureStep = keyof typeof SECURE_STEP_SHARES;

/**
 * The protocol's parameters of one secure round (sent to each drawn gateway as `round-params`):
 * - clients: the drawn gateways;
 * - the neighbour graph: complete up to 255 clients (every pair masks; the most the GF(2^8)
 *   sharing allows), SecAgg+'s ring beyond, of even degree about 3 log2 n, with a fresh seed;
 * - the threshold t: a majority of each client's share holders (the protocol requires it),
 *   at least 2, and in a complete graph at least the task's quorum, so the sum is never
 *   revealed over fewer gateways than minClients;
 * - vectorLength: the model's parameters, every tensor in file order, one ring word each.
 */
export function secureRoundParams(p: { readonly task: string; readonly round: number; readonly sampled: readonly string[]; readonly minClients: number; readonly vectorLength: number; readonly seed: () => Uint8Array }): RoundParams {
  const n = p.sampled.length;
  const graph: NeighbourGraph = n <= MAX_SHARE_HOLDERS ? { type: 'complete' } : { type: 'harary', degree: Math.min(n - 1 - ((n - 1) % 2), 2 * Math.ceil(1.5 * Math.log2(n))), seed: p.seed() };
  const holders = graph.type === 'complete' ? n : graph.degree + 1;
  const majority = Math.max(2, Math.floor(holders / 2) + 1);
  const threshold = graph.type === 'complete' ? Math.min(holders, Math.max(majority, p.minClients)) : majority;
  return { round: secAggRoundId(p.task, p.round), clients: [...p.sampled].sort(), threshold, vectorLength: p.vectorLength, graph };
}
