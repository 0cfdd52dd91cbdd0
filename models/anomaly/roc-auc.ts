/**
 * ROC AUC of scores against 0/1 labels (Mann-Whitney: the chance a random anomalous window
 * scores above a random normal one, ties counting half; NaN ranks lowest); null without both
 * kinds of label.
 */
export function rocAuc(raw: ArrayLike<number>, labels: ArrayLike<number>): number | null {
  // A model that answers NaN has not found the anomaly: it ranks lowest.
  const scores = Array.from(raw, (x) => (Number.isNaN(x) ? -Infinity : x));
  const n = scores.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => (scores[a] as number) - (scores[b] as number));
  let positives = 0;
  let rankSum = 0;
  for (let i = 0; i < n; ) {
    let j = i;
    while (j + 1 < n && scores[order[j + 1] as number] === scores[order[i] as number]) j += 1;
    // Tied scores share the mean of their ranks (1-based).
    const rank = (i + j + 2) / 2;
    for (let k = i; k <= j; k += 1) {
      if (labels[order[k] as number] === 1) {
        positives += 1;
        rankSum += rank;
      }
    }
    i = j + 1;
  }
  const negatives = n - positives;
  if (positives === 0 || negatives === 0) return null;
  return (rankSum - (positives * (positives + 1)) / 2) / (positives * negatives);
}
