/**
 * Splits one score among the channels that produced it. The score of a point is the highest
 * channel score (the most anomalous channel decides); each channel gets a share of it in
 * proportion to its own score, so the shares are non-negative, sum to the score, and a
 * channel that was not surprising gets (almost) nothing.
 */
export function explainMax(channelScores: Readonly<Record<string, number>>): { score: number; contributions: Record<string, number> } {
  let max = 0;
  let sum = 0;
  for (const v of Object.values(channelScores)) {
    const s = Number.isFinite(v) && v > 0 ? v : 0;
    if (s > max) max = s;
    sum += s;
  }
  const contributions: Record<string, number> = {};
  for (const [c, v] of Object.entries(channelScores)) {
    const s = Number.isFinite(v) && v > 0 ? v : 0;
    contributions[c] = sum > 0 ? (max * s) / sum : 0;
  }
  return { score: max, contributions };
}
