import type { RoundAnnouncementMessage } from '../../fleet/protocol/federated/announcement.js';
import type { RandomSource } from '../../fleet/protocol/federated/random-source.js';
import { ErrorFeedback } from '../../fleet/protocol/federated/sparsify.js';
import type { FloatTensor, QuantizedTensor } from '../../fleet/protocol/federated/tensor.js';

/** Tasks whose error-feedback residual is kept at most (one float32 per parameter each). */
const MAX_TASKS = 16;

/**
 * The gateway's side of the update's compression, per task and in memory: the error-feedback
 * residual (what earlier rounds did not send) is added to each delta, the sum clipped to the
 * round's clip norm, then sent as dense int8 or top-k per the announcement. The residual is
 * lost on restart, which costs only what it held (sent later, or never; the fleet's rule is
 * unbiased either way). A model of another layout starts a new residual.
 */
export class UpdateCompressor {
  private readonly byTask = new Map<string, ErrorFeedback>();

  constructor(private readonly random: RandomSource) {}

  compress(a: RoundAnnouncementMessage, delta: readonly FloatTensor[]): { tensors: QuantizedTensor[]; residualReset: boolean } {
    const q = a.quantisation;
    if (q.type === 'int8' && q.scale !== null) {
      // A shared scale belongs to secure rounds, which quantise into the ring (secure-participant.ts), never through here.
      throw Object.assign(new Error('the round fixes a shared int8 scale (secure aggregation); this gateway sends per-tensor scales only'), { code: 'E_LEARNING_UNSUPPORTED' });
    }
    let feedback = this.byTask.get(a.task);
    const fits = feedback !== undefined && feedback.layout.length === delta.length && feedback.layout.every((t, i) => t.name === delta[i]?.name && t.shape.join(',') === delta[i]?.shape.join(','));
    const residualReset = feedback !== undefined && !fits;
    if (feedback === undefined || !fits) {
      feedback = new ErrorFeedback(delta.map((t) => ({ name: t.name, shape: t.shape })));
      this.byTask.delete(a.task);
      if (this.byTask.size >= MAX_TASKS) this.byTask.delete(this.byTask.keys().next().value as string);
      this.byTask.set(a.task, feedback);
    }
    const density = q.type === 'top-k' ? q.density : 1;
    return { tensors: feedback.compress(delta, this.random, { density, clipNorm: a.clipNorm }), residualReset };
  }
}
