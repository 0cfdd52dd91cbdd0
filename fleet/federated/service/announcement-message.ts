import type { GlobalModelRef, RoundAnnouncementMessage } from '../../protocol/federated/announcement.js';
import type { RoundAnnouncement } from '../round/announcement.js';

/**
 * The round's typed announcement as it goes on the wire: the global model named by its release
 * (so a gateway fetches it through TUF and checks its hash), FedProx's mu pulled out of the
 * rule's options, and the quantisation in the wire's shape (with a secure round's shared scale).
 */
export function announcementMessage(a: RoundAnnouncement, model: GlobalModelRef): RoundAnnouncementMessage {
  const mu = a.strategy.type === 'fedprox' ? a.strategy.options['mu'] : undefined;
  return {
    v: 1,
    task: a.task,
    round: a.round,
    model,
    localEpochs: a.localEpochs,
    learningRate: a.learningRate,
    clipNorm: a.clipNorm,
    proximalMu: typeof mu === 'number' ? mu : null,
    quantisation: a.quantisation.type === 'int8' ? { type: 'int8', scale: a.sharedScale } : { type: 'top-k', density: a.quantisation.density },
    secureAggregation: a.secureAggregation,
    openedAtMs: a.openedAtMs,
    deadlineAtMs: a.deadlineAtMs,
  };
}
