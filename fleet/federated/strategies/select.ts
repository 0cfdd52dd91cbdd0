/**
 * Quickselect (Hoare, 1961) on a Float32Array range: reorders `a[lo..hi]` (inclusive) so that
 * `a[k]` holds the value it would hold if the range were sorted, everything before it is <= and
 * everything after it is >=. Average O(n): the trimmed mean of 1,000 updates of the
 * autoencoder takes half the time it takes with a sort of each column (README).
 * Byzantine clients choose some of the values, so a crafted column must not make it quadratic:
 * after 2 log2(n) + 8 rounds without converging, the rest of the range is sorted instead
 * (introselect, Musser 1997); `rounds` sets that budget. Values must not be NaN.
 */
export function selectInPlace(a: Float32Array, lo: number, hi: number, k: number, rounds = 2 * Math.ceil(Math.log2(hi - lo + 2)) + 8): void {
  while (hi > lo) {
    if (rounds === 0) {
      a.subarray(lo, hi + 1).sort();
      return;
    }
    rounds -= 1;
    const pivot = medianOfThree(a[lo] as number, a[(lo + hi) >>> 1] as number, a[hi] as number);
    let i = lo;
    let j = hi;
    while (i <= j) {
      while ((a[i] as number) < pivot) i += 1;
      while ((a[j] as number) > pivot) j -= 1;
      if (i <= j) {
        const t = a[i] as number;
        a[i] = a[j] as number;
        a[j] = t;
        i += 1;
        j -= 1;
      }
    }
    // Now a[lo..j] <= pivot, a[i..hi] >= pivot, and anything between equals the pivot.
    if (k <= j) hi = j;
    else if (k >= i) lo = i;
    else return;
  }
}

function medianOfThree(x: number, y: number, z: number): number {
  if (x < y) return y < z ? y : x < z ? z : x;
  return x < z ? x : y < z ? z : y;
}

/** The largest value of a[lo..hi] (inclusive, non-empty). */
export function maxOf(a: Float32Array, lo: number, hi: number): number {
  let m = a[lo] as number;
  for (let i = lo + 1; i <= hi; i += 1) if ((a[i] as number) > m) m = a[i] as number;
  return m;
}
