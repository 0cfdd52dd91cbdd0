/**
 * The learning rounds against what the scenario expects: every round closes with a model, the
 * reported validation losses stay finite and do not climb (a poisoned update that got through
 * makes them jump), and where the round record names the updates the rule left out, every
 * Byzantine gateway is among them.
 */
import type { LearningExpectation, LearningRoundObservation } from './types.js';

/** How far the last round's mean validation loss may sit above the first's before the round is judged to have gone wrong. */
export const DEFAULT_LOSS_RISE_TOLERANCE = 0.1;

export interface LearningScore {
  readonly roundsExpected: number;
  readonly rounds: readonly LearningRoundObservation[];
  readonly firstLoss: number | null;
  readonly lastLoss: number | null;
  /** Rejected updates over all rounds (every reason). */
  readonly rejected: number;
  /** Byzantine gateways left out of every round, when the records say; null when they do not. */
  readonly byzantineExcluded: boolean | null;
  readonly ok: boolean;
  readonly problems: readonly string[];
}

export function scoreLearning(expect: LearningExpectation, rounds: readonly LearningRoundObservation[], lossRiseTolerance = DEFAULT_LOSS_RISE_TOLERANCE): LearningScore {
  const problems: string[] = [];
  const sorted = [...rounds].sort((a, b) => a.round - b.round);
  if (sorted.length < expect.rounds) problems.push(`${sorted.length} of ${expect.rounds} rounds ran`);
  for (const r of sorted) if (r.outcome !== 'model') problems.push(`round ${r.round}: ${r.outcome}`);
  const losses = sorted.flatMap((r) => (r.meanValidationLoss === null ? [] : [r.meanValidationLoss]));
  if (losses.some((l) => !Number.isFinite(l))) problems.push('a validation loss is not finite');
  const firstLoss = losses[0] ?? null;
  const lastLoss = losses.at(-1) ?? null;
  if (firstLoss !== null && lastLoss !== null && Number.isFinite(firstLoss) && lastLoss > firstLoss * (1 + lossRiseTolerance)) {
    problems.push(`validation loss rose from ${firstLoss.toPrecision(3)} to ${lastLoss.toPrecision(3)}`);
  }
  const known = sorted.filter((r) => r.excludedGatewayIds !== null);
  let byzantineExcluded: boolean | null = null;
  if (expect.byzantineIds.length > 0 && known.length > 0) {
    byzantineExcluded = known.every((r) => expect.byzantineIds.every((id) => (r.excludedGatewayIds as readonly string[]).includes(id)));
    if (!byzantineExcluded) problems.push('a Byzantine gateway\'s update was used');
  }
  const rejected = sorted.reduce((a, r) => a + Object.values(r.rejected).reduce((x, y) => x + y, 0), 0);
  return { roundsExpected: expect.rounds, rounds: sorted, firstLoss, lastLoss, rejected, byzantineExcluded, ok: problems.length === 0, problems };
}
