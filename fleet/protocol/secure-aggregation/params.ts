import { secAggFail } from './errors.js';
import { neighbourLists, type NeighbourGraph } from './graph.js';

/**
 * The parameters of one secure round, fixed by the fleet when it announces the round and
 * known to every client: the round id (bound into every key), the sampled clients, the
 * threshold t, the length of the vectors summed, and the neighbour graph.
 */
export interface RoundParams {
  readonly round: string;
  readonly clients: readonly string[];
  readonly threshold: number;
  readonly vectorLength: number;
  readonly graph: NeighbourGraph;
}

export const ROUND_ID_PATTERN = /^[A-Za-z0-9_.:-]{1,128}$/;
export const CLIENT_ID_PATTERN = /^[A-Za-z0-9_.-]{1,64}$/;
/**
 * shamir-secret-sharing works in GF(2^8): at most 255 shares of a secret. A client's
 * secrets are shared among itself and its neighbours, so a neighbourhood holds at most 255.
 */
export const MAX_SHARE_HOLDERS = 255;
/** Clients of one round (the harary graph; a complete graph is bounded by MAX_SHARE_HOLDERS). */
export const MAX_CLIENTS = 10_000;
/** Words in a summed vector: 16 MiB of uint32, far above the models a gateway trains. */
export const MAX_VECTOR_LENGTH = 1 << 22;

/** The round as both sides use it: validated parameters and the derived neighbourhoods. */
export interface RoundPlan {
  readonly round: string;
  /** Sorted by id (UTF-16 code units; ids are ASCII, so byte order): the order behind the mask signs. */
  readonly clients: readonly string[];
  readonly threshold: number;
  readonly vectorLength: number;
  readonly graph: NeighbourGraph;
  has(id: string): boolean;
  /** Neighbours of `id` (sorted, without `id`): the clients it masks with. */
  neighbours(id: string): readonly string[];
  /** `id` and its neighbours (sorted): who holds shares of its secrets. */
  holders(id: string): readonly string[];
  isNeighbour(a: string, b: string): boolean;
}

const bad = (message: string): never => secAggFail('invalid-params', `secure round parameters: ${message}`);

/** Checks round parameters (from the round announcement: outside input) and derives the neighbour graph. */
export function planRound(input: unknown): RoundPlan {
  if (typeof input !== 'object' || input === null) return bad('expected an object');
  const p = input as Record<string, unknown>;
  const round = p['round'];
  if (typeof round !== 'string' || !ROUND_ID_PATTERN.test(round)) return bad(`round: expected an id matching ${String(ROUND_ID_PATTERN)}`);
  const clients = p['clients'];
  if (!Array.isArray(clients) || clients.length < 2 || clients.length > MAX_CLIENTS) return bad(`clients: expected 2 to ${MAX_CLIENTS} client ids`);
  clients.forEach((c: unknown, i) => {
    if (typeof c !== 'string' || !CLIENT_ID_PATTERN.test(c)) bad(`clients[${i}]: expected an id matching ${String(CLIENT_ID_PATTERN)}`);
  });
  const sorted = [...(clients as string[])].sort();
  for (let i = 1; i < sorted.length; i += 1) if (sorted[i] === sorted[i - 1]) bad(`clients: ${String(sorted[i])} is listed twice`);
  const vectorLength = p['vectorLength'];
  if (!Number.isSafeInteger(vectorLength) || (vectorLength as number) < 1 || (vectorLength as number) > MAX_VECTOR_LENGTH) return bad(`vectorLength: expected an integer from 1 to ${MAX_VECTOR_LENGTH}`);
  const graph = checkGraph(p['graph'], sorted.length);
  const holdersPerClient = graph.type === 'complete' ? sorted.length : graph.degree + 1;
  if (holdersPerClient > MAX_SHARE_HOLDERS) bad(`a complete graph of ${sorted.length} clients gives each ${holdersPerClient} share holders, over ${MAX_SHARE_HOLDERS}: use a harary graph`);
  const threshold = p['threshold'];
  // t > holders / 2: two disjoint groups of clients can never both reach the threshold, so a
  // server that tells some clients "u dropped" and others "u survived" cannot collect enough
  // shares of both of u's secrets from the two groups.
  const minT = Math.max(2, Math.floor(holdersPerClient / 2) + 1);
  if (!Number.isSafeInteger(threshold) || (threshold as number) < minT || (threshold as number) > holdersPerClient) {
    return bad(`threshold: expected an integer from ${minT} (a majority of the ${holdersPerClient} holders of each client's shares, and at least 2) to ${holdersPerClient}, got ${String(threshold)}`);
  }
  const lists = neighbourLists(round, sorted, graph);
  const sets = new Map([...lists].map(([c, l]) => [c, new Set(l)]));
  const holders = new Map([...lists].map(([c, l]) => [c, [...l, c].sort()]));
  const known = new Set(sorted);
  const get = <T>(m: Map<string, T>, id: string): T => m.get(id) ?? secAggFail('unknown-client', `client ${id} is not in round ${round}`);
  return {
    round,
    clients: sorted,
    threshold: threshold as number,
    vectorLength: vectorLength as number,
    graph,
    has: (id) => known.has(id),
    neighbours: (id) => get(lists, id),
    holders: (id) => get(holders, id),
    isNeighbour: (a, b) => sets.get(a)?.has(b) === true,
  };
}

function checkGraph(input: unknown, n: number): NeighbourGraph {
  if (typeof input !== 'object' || input === null) return bad('graph: expected { type: "complete" } or { type: "harary", degree, seed }');
  const g = input as Record<string, unknown>;
  if (g['type'] === 'complete') return { type: 'complete' };
  if (g['type'] !== 'harary') return bad(`graph.type: expected "complete" or "harary", got ${JSON.stringify(g['type']) ?? 'nothing'}`);
  const degree = g['degree'];
  if (!Number.isSafeInteger(degree) || (degree as number) < 2 || (degree as number) % 2 !== 0 || (degree as number) >= n) {
    return bad(`graph.degree: expected an even integer from 2 to ${n - 1} (below the ${n} clients), got ${String(degree)}`);
  }
  const seed = g['seed'];
  if (!(seed instanceof Uint8Array) || seed.byteLength !== 32) return bad('graph.seed: expected 32 bytes');
  return { type: 'harary', degree: degree as number, seed: Uint8Array.from(seed) };
}
