import { munkres } from 'munkres';

/** A row matched to a column (a track to a detection). */
export type Pair = readonly [row: number, col: number];

/**
 * The optimal one-to-one assignment of rows to columns under a gate: `cost(r, c)` is a
 * finite cost >= 0 for a pair that may be matched, undefined for one that may not. Among the
 * allowed pairs it finds as many pairs as can be matched at once, and of those sets the one
 * with the least total cost (the Hungarian method, `munkres`). Pairs come out by row.
 *
 * Why the number of pairs first: a track left unmatched coasts on its prediction and may be
 * ended; one matched pair more is worth more than any gain in overlap elsewhere (the same
 * order SORT and DeepSORT use: gate first, then optimise).
 */
export function assign(rows: number, cols: number, cost: (row: number, col: number) => number | undefined): Pair[] {
  if (rows === 0 || cols === 0) return [];
  const matrix: number[][] = [];
  const allowed = new Uint8Array(rows * cols);
  let maxCost = 0;
  let any = false;
  for (let r = 0; r < rows; r += 1) {
    const row = new Array<number>(cols);
    for (let c = 0; c < cols; c += 1) {
      const v = cost(r, c);
      if (v === undefined) {
        row[c] = Number.NaN; // forbidden: set below, once the largest allowed cost is known
        continue;
      }
      if (!Number.isFinite(v) || v < 0) throw new RangeError(`assign: cost(${r}, ${c}) must be a finite number >= 0 or undefined, got ${v}`);
      row[c] = v;
      allowed[r * cols + c] = 1;
      any = true;
      if (v > maxCost) maxCost = v;
    }
    matrix.push(row);
  }
  if (!any) return [];
  // A forbidden pair costs more than every allowed pair of a full assignment together, so the
  // solver takes one only where it must (a rectangular solve always assigns min(rows, cols)):
  // fewer forbidden pairs in the solution is more allowed ones, and that is compared first.
  const forbidden = Math.min(rows, cols) * maxCost + 1;
  for (const row of matrix) for (let c = 0; c < cols; c += 1) if (Number.isNaN(row[c])) row[c] = forbidden;
  return munkres(matrix)
    .filter(([r, c]) => allowed[r * cols + c] === 1)
    .sort((a, b) => a[0] - b[0])
    .map(([r, c]) => [r, c] as const);
}
