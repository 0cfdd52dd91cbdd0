/**
 * Softmax cross-entropy of `rows` rows of logits (row-major, `classes` each) against each row's
 * class, averaged over the rows, and its gradient per logit: softmax - one-hot, over rows.
 */
export function softmaxCrossEntropy(logits: Float64Array, rows: number, classes: number, labelOf: (row: number) => number): { value: number; delta: Float64Array } {
  const delta = new Float64Array(logits.length);
  let value = 0;
  for (let r = 0; r < rows; r += 1) {
    const at = r * classes;
    let max = -Infinity;
    for (let c = 0; c < classes; c += 1) max = Math.max(max, logits[at + c] as number);
    let sum = 0;
    for (let c = 0; c < classes; c += 1) sum += Math.exp((logits[at + c] as number) - max);
    const y = labelOf(r);
    value += (Math.log(sum) + max - (logits[at + y] as number)) / rows;
    for (let c = 0; c < classes; c += 1) delta[at + c] = (Math.exp((logits[at + c] as number) - max) / sum - (c === y ? 1 : 0)) / rows;
  }
  return { value, delta };
}
