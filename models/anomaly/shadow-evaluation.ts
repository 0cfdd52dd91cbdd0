import type { AnomalyEvaluationSet } from '../../fleet/protocol/evaluation-set.js';
import type { AutoencoderScorer } from './autoencoder/model.js';
import { rocAuc } from './roc-auc.js';

/** Windows scored per inference run (bounds the memory of one run). */
const BATCH = 256;

/**
 * ROC AUC of an autoencoder on a labelled evaluation set: each window's reconstruction error
 * ranked against the labels. The set's channels are picked in the model's order by name, so a
 * set recorded with more channels, or in another order, fits every model whose channels it has.
 * Throws naming what does not fit (a missing channel, another window length) or the run's error.
 */
export async function autoencoderAuc(scorer: AutoencoderScorer, set: AnomalyEvaluationSet): Promise<number> {
  const { channels, windowSamples: w } = scorer.meta;
  if (w !== set.windowSamples) throw new Error(`the evaluation set's windows are ${set.windowSamples} samples, the model's ${w}`);
  const missing = channels.filter((ch) => !set.channels.includes(ch));
  if (missing.length > 0) throw new Error(`the evaluation set lacks channels ${missing.join(', ')} (it has ${set.channels.join(', ')})`);
  const cols = channels.map((ch) => set.channels.indexOf(ch));
  const c = cols.length;
  const setC = set.channels.length;
  const errors = new Float64Array(set.count);
  for (let start = 0; start < set.count; start += BATCH) {
    const n = Math.min(BATCH, set.count - start);
    const raw = new Float64Array(n * w * c);
    for (let k = 0; k < n; k += 1) {
      for (let t = 0; t < w; t += 1) {
        const from = ((start + k) * w + t) * setC;
        const to = (k * w + t) * c;
        for (let ch = 0; ch < c; ch += 1) raw[to + ch] = set.windows[from + (cols[ch] as number)] as number;
      }
    }
    const scored = await scorer.score(raw, n);
    scored.forEach((s, k) => {
      errors[start + k] = s.meanSquaredError;
    });
  }
  // The raw error ranks finer than the calibrated score, which saturates at 1 for the clearest anomalies.
  const auc = rocAuc(errors, set.labels);
  if (auc === null) throw new Error('the evaluation set needs both normal and anomalous windows');
  return Math.round(auc * 1e6) / 1e6;
}
