import { graphShuffleKey } from './derive.js';
import { wordStream } from './prg.js';

/**
 * Who masks with whom and who holds whose shares.
 *
 * - `complete`: every pair of the round's clients (Bonawitz et al. 2017).
 * - `harary`: SecAgg+ (Bell et al. 2020): clients are shuffled onto a ring by a keystream
 *   from a public per-round seed, and each is joined to the `degree / 2` nearest on either
 *   side: a degree-regular graph (the Harary graph H(degree, n) under a random labelling).
 *   Work and bytes per client then grow with the degree, not with n.
 *
 * The shuffle is Fisher-Yates over the clients sorted by id, drawing j in [0, i] from the
 * keystream words with rejection of the biased tail, for i from n - 1 down to 1.
 */
export type NeighbourGraph = { readonly type: 'complete' } | { readonly type: 'harary'; readonly degree: number; readonly seed: Uint8Array };

/** Neighbour lists (sorted, without the client itself) of `sortedClients` under `graph`; inputs already validated. */
export function neighbourLists(round: string, sortedClients: readonly string[], graph: NeighbourGraph): Map<string, readonly string[]> {
  const out = new Map<string, readonly string[]>();
  if (graph.type === 'complete') {
    for (const c of sortedClients) out.set(c, sortedClients.filter((o) => o !== c));
    return out;
  }
  const ring = shuffled(sortedClients, graphShuffleKey(round, graph.seed));
  const n = ring.length;
  const half = graph.degree / 2;
  ring.forEach((c, i) => {
    const around: string[] = [];
    for (let d = 1; d <= half; d += 1) around.push(ring[(i + d) % n] as string, ring[(i - d + n) % n] as string);
    out.set(c, around.sort());
  });
  return out;
}

function shuffled(items: readonly string[], key: Uint8Array): string[] {
  const next = wordStream(key);
  const a = [...items];
  for (let i = a.length - 1; i >= 1; i -= 1) {
    const span = i + 1;
    // The largest multiple of span not above 2^32: words at or past it would favour small j.
    const limit = Math.floor(0x1_0000_0000 / span) * span;
    let w = next();
    while (w >= limit) w = next();
    const j = w % span;
    const t = a[i] as string;
    a[i] = a[j] as string;
    a[j] = t;
  }
  return a;
}
