/**
 * The learning rounds against what the scenario expects: every round closes with a model, the
 * reported validation losses stay finite and do not climb (a poisoned update that got through
 * makes them jump), and no Byzantine gateway's update went into a model unchecked.
 *
 * A Byzantine update is, per round, one of:
 * - `excluded`: refused (not among the participants), or left out by Krum's choice;
 * - `outvoted`: accepted, under a rule that bounds any one update's pull (coordinate-wise
 *   median, trimmed mean): it is in the round but cannot steer it;
 * - `used`: accepted under a rule that averages it in (FedAvg), or chosen by Krum. That fails.
 */
import { ScoreInputError } from './score-input-error.js';
import type { LearningExpectation, LearningRoundObservation } from './types.js';

/** How far the last round's mean validation loss may sit above the first's before the rounds are judged to have gone wrong. */
export const DEFAULT_LOSS_RISE_TOLERANCE = 0.1;

const BOUNDING_RULES: readonly string[] = ['median', 'trimmed-mean'];

export interface ByzantineTally {
  readonly excluded: number;
  readonly outvoted: number;
  readonly used: number;
  /** Rounds without a record to judge by. */
  readonly unknown: number;
}

export interface LearningScore {
  readonly roundsExpected: number;
  readonly rounds: readonly LearningRoundObservation[];
  readonly firstLoss: number | null;
  readonly lastLoss: number | null;
  /** Rejected updates over all rounds (every reason). */
  readonly rejected: number;
  /** Byzantine updates per round and gateway, by fate. */
  readonly byzantine: ByzantineTally;
  readonly ok: boolean;
  readonly problems: readonly string[];
}

function byzantineFate(r: LearningRoundObservation, id: string): keyof ByzantineTally {
  if (r.participantIds === null) return 'unknown';
  if (!r.participantIds.includes(id)) return 'excluded';
  if (r.selectedIds !== null) return r.selectedIds.includes(id) ? 'used' : 'excluded';
  return r.rule !== null && BOUNDING_RULES.includes(r.rule) ? 'outvoted' : 'used';
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
  const byzantine = { excluded: 0, outvoted: 0, used: 0, unknown: 0 };
  for (const r of sorted) {
    for (const id of expect.byzantineIds) {
      const fate = byzantineFate(r, id);
      byzantine[fate] += 1;
      if (fate === 'used') problems.push(`round ${r.round}: the Byzantine update of ${id} was used (${r.rule ?? 'rule unknown'})`);
    }
  }
  const rejected = sorted.reduce((a, r) => a + Object.values(r.rejected).reduce((x, y) => x + y, 0), 0);
  return { roundsExpected: expect.rounds, rounds: sorted, firstLoss, lastLoss, rejected, byzantine, ok: problems.length === 0, problems };
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const stringsOrNull = (v: unknown): string[] | null => (Array.isArray(v) && v.every((x) => typeof x === 'string') ? (v as string[]) : null);

/**
 * One item of GET /v1/learning/tasks/:id/rounds (fleet/api/schemas/learning.ts) as an
 * observation; throws E_SCORE_INPUT naming the first field that is not what the API documents.
 */
export function learningRoundFromApi(item: unknown, where = 'round'): LearningRoundObservation {
  if (!isObject(item)) throw new ScoreInputError(`${where}: expected an object, got ${JSON.stringify(item)?.slice(0, 40)}`);
  const { round, outcome, participants, meanValidationLoss, record } = item;
  if (!Number.isInteger(round)) throw new ScoreInputError(`${where}.round: expected an integer`);
  if (outcome !== 'open' && outcome !== 'model' && outcome !== 'no-model' && outcome !== 'abandoned') throw new ScoreInputError(`${where}.outcome: expected open, model, no-model or abandoned`);
  if (!Number.isInteger(participants)) throw new ScoreInputError(`${where}.participants: expected an integer`);
  if (meanValidationLoss !== null && typeof meanValidationLoss !== 'number') throw new ScoreInputError(`${where}.meanValidationLoss: expected a number or null`);
  if (record !== null && !isObject(record)) throw new ScoreInputError(`${where}.record: expected an object or null`);
  const rejections = isObject(record) && isObject(record['rejections']) ? record['rejections'] : {};
  const strategy = isObject(record) && isObject(record['strategy']) ? record['strategy'] : null;
  return {
    round: round as number,
    outcome,
    participants: participants as number,
    meanValidationLoss,
    rejected: Object.fromEntries(Object.entries(rejections).filter((e): e is [string, number] => typeof e[1] === 'number')),
    participantIds: isObject(record) ? stringsOrNull(record['participants']) : null,
    rule: strategy !== null && typeof strategy['type'] === 'string' ? strategy['type'] : null,
    selectedIds: strategy === null ? null : stringsOrNull(strategy['selected']),
  };
}
