/**
 * "Did you mean": the known name closest to a misspelled one, by edit distance (optimal string
 * alignment: insert, delete, substitute, swap two neighbours), where a change of case alone
 * costs nothing (`rateHZ` is `rateHz`).
 */

/** Edit distance between `a` and `b` with case ignored; Infinity once it must exceed `limit`. */
export function editDistance(a: string, b: string, limit = Number.POSITIVE_INFINITY): number {
  const s = a.toLowerCase();
  const t = b.toLowerCase();
  if (Math.abs(s.length - t.length) > limit) return Number.POSITIVE_INFINITY;
  let before = new Array<number>(t.length + 1).fill(0);
  let prev = Array.from({ length: t.length + 1 }, (_, j) => j);
  for (let i = 1; i <= s.length; i += 1) {
    const cur = new Array<number>(t.length + 1).fill(0);
    cur[0] = i;
    let rowMin = cur[0];
    for (let j = 1; j <= t.length; j += 1) {
      const cost = s[i - 1] === t[j - 1] ? 0 : 1;
      let d = Math.min((prev[j] as number) + 1, (cur[j - 1] as number) + 1, (prev[j - 1] as number) + cost);
      if (i > 1 && j > 1 && s[i - 1] === t[j - 2] && s[i - 2] === t[j - 1]) d = Math.min(d, (before[j - 2] as number) + 1);
      cur[j] = d;
      if (d < rowMin) rowMin = d;
    }
    if (rowMin > limit) return Number.POSITIVE_INFINITY;
    before = prev;
    prev = cur;
  }
  const d = prev[t.length] as number;
  return d > limit ? Number.POSITIVE_INFINITY : d;
}

/**
 * The candidate closest to `name`, if it is close enough to be a slip rather than another
 * word: at most one edit for short names, about one in three characters for longer ones.
 * Ties go to the first candidate.
 */
export function closest(name: string, candidates: readonly string[]): string | undefined {
  const limit = Math.max(1, Math.floor(name.length / 3));
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const c of candidates) {
    if (c === name) continue;
    const d = editDistance(name, c, limit);
    if (d < bestDistance) {
      best = c;
      bestDistance = d;
    }
  }
  return best;
}
