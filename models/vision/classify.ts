export interface ClassScore {
  readonly classId: number;
  readonly score: number;
}

/** Softmax of logits (numerically stable: the maximum is subtracted first). */
export function softmax(logits: ArrayLike<number>): Float64Array {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i += 1) max = Math.max(max, logits[i] as number);
  const out = new Float64Array(logits.length);
  let sum = 0;
  for (let i = 0; i < logits.length; i += 1) {
    const e = Math.exp((logits[i] as number) - max);
    out[i] = e;
    sum += e;
  }
  for (let i = 0; i < out.length; i += 1) out[i] = (out[i] as number) / sum;
  return out;
}

/** The k most probable classes, most probable first. `probabilities`: the output is already softmaxed. */
export function topK(output: ArrayLike<number>, k: number, probabilities = false): ClassScore[] {
  const p = probabilities ? Float64Array.from(output as ArrayLike<number>) : softmax(output);
  return Array.from(p, (score, classId) => ({ classId, score }))
    .sort((a, b) => b.score - a.score || a.classId - b.classId)
    .slice(0, Math.max(0, k));
}
