import { jsonParam } from '../../db/json.js';
import type { Queryable } from '../../db/open-database.js';
import type { ChangeFeed } from '../../events/change-feed.js';
import type { GlobalModelRef } from '../../protocol/federated/announcement.js';
import type { SpentRounds } from '../privacy/privacy-budget.js';
import type { RolloutSpec } from '../../rollouts/rollouts.js';
import type { RoundRecord } from '../round/record.js';
import type { FederatedTask } from '../round/task.js';

export type LearningTaskState = 'active' | 'stopped' | 'finished';
export type StoredRoundOutcome = 'open' | 'model' | 'no-model' | 'abandoned';

/** What the service adds to a task definition: how many rounds, and the pause between them. */
export interface TaskSchedule {
  /** Rounds to run (each round that opened counts, whatever its outcome); null: until stopped or the privacy budget is spent. */
  readonly rounds: number | null;
  /** Pause between one round's close and the next one's opening. */
  readonly roundIntervalMs: number;
  /** The plan each released model is rolled out with; null: released only. (Stored tasks from before it: null.) */
  readonly rollout: RolloutSpec | null;
}

export interface LearningTask {
  readonly id: string;
  readonly definition: FederatedTask;
  readonly schedule: TaskSchedule;
  readonly state: LearningTaskState;
  readonly reason: string | null;
  readonly createdMs: number;
  readonly updatedMs: number;
  /** The release the next round starts from. */
  readonly globalModel: GlobalModelRef;
  readonly nextRound: number;
  readonly roundsClosed: number;
  readonly privacyHistory: readonly SpentRounds[];
}

export interface LearningRound {
  readonly task: string;
  readonly round: number;
  readonly openedMs: number;
  readonly deadlineMs: number;
  readonly closedMs: number | null;
  readonly outcome: StoredRoundOutcome;
  readonly globalModel: GlobalModelRef;
  readonly sampled: number;
  /** The round's record (record.ts); null while open or when abandoned. */
  readonly record: RoundRecord | null;
  readonly participants: number;
  readonly meanValidationLoss: number | null;
  readonly epsilonSpent: number | null;
  readonly released: GlobalModelRef | null;
  readonly releaseError: string | null;
}

interface TaskRow {
  id: string;
  definition: FederatedTask;
  schedule: Omit<TaskSchedule, 'rollout'> & { rollout?: RolloutSpec | null };
  state: LearningTaskState;
  reason: string | null;
  created_ms: number;
  updated_ms: number;
  global_model: GlobalModelRef;
  next_round: number;
  rounds_closed: number;
  privacy_history: SpentRounds[];
}

interface RoundRow {
  task_id: string;
  round: number;
  opened_ms: number;
  deadline_ms: number;
  closed_ms: number | null;
  outcome: StoredRoundOutcome;
  global_model: GlobalModelRef;
  sampled: number;
  record: RoundRecord | null;
  participants: number;
  mean_validation_loss: number | null;
  epsilon_spent: number | null;
  released: GlobalModelRef | null;
  release_error: string | null;
}

function task(r: TaskRow): LearningTask {
  return {
    id: r.id,
    definition: r.definition,
    schedule: { ...r.schedule, rollout: r.schedule.rollout ?? null },
    state: r.state,
    reason: r.reason,
    createdMs: Number(r.created_ms),
    updatedMs: Number(r.updated_ms),
    globalModel: r.global_model,
    nextRound: Number(r.next_round),
    roundsClosed: Number(r.rounds_closed),
    privacyHistory: r.privacy_history,
  };
}

function round(r: RoundRow): LearningRound {
  return {
    task: r.task_id,
    round: Number(r.round),
    openedMs: Number(r.opened_ms),
    deadlineMs: Number(r.deadline_ms),
    closedMs: r.closed_ms === null ? null : Number(r.closed_ms),
    outcome: r.outcome,
    globalModel: r.global_model,
    sampled: Number(r.sampled),
    record: r.record,
    participants: Number(r.participants),
    meanValidationLoss: r.mean_validation_loss === null ? null : Number(r.mean_validation_loss),
    epsilonSpent: r.epsilon_spent === null ? null : Number(r.epsilon_spent),
    released: r.released,
    releaseError: r.release_error,
  };
}

/** What closing a round stores. */
export interface RoundClosing {
  readonly closedMs: number;
  readonly record: RoundRecord;
  readonly released: GlobalModelRef | null;
  readonly releaseError: string | null;
}

/** The federated tables' queries (learning_tasks, learning_rounds). */
export class FederatedStore {
  /** `changes`: told of each task and round written here (the live stream). */
  constructor(
    private readonly db: Queryable,
    private readonly changes?: ChangeFeed,
  ) {}

  /** False when a task with this id exists already. */
  async insertTask(t: { id: string; definition: FederatedTask; schedule: TaskSchedule; globalModel: GlobalModelRef; nowMs: number }): Promise<boolean> {
    const rows = await this.db.query(
      `INSERT INTO learning_tasks (id, definition, schedule, state, created_ms, updated_ms, global_model)
       VALUES ($1, $2::jsonb, $3::jsonb, 'active', $4, $4, $5::jsonb) ON CONFLICT (id) DO NOTHING RETURNING id`,
      [t.id, jsonParam(t.definition), jsonParam(t.schedule), t.nowMs, jsonParam(t.globalModel)],
    );
    if (rows.length === 1) this.changes?.learning(t.id, null);
    return rows.length === 1;
  }

  async getTask(id: string): Promise<LearningTask | undefined> {
    const r = (await this.db.query<TaskRow>('SELECT * FROM learning_tasks WHERE id = $1', [id]))[0];
    return r === undefined ? undefined : task(r);
  }

  /** Tasks in id order, a page at a time (`after`: the last id of the previous page). */
  async listTasks(f: { state?: LearningTaskState; after?: string; limit: number }): Promise<LearningTask[]> {
    const rows = await this.db.query<TaskRow>(
      `SELECT * FROM learning_tasks WHERE ($1::text IS NULL OR state = $1) AND ($2::text IS NULL OR id > $2) ORDER BY id LIMIT $3`,
      [f.state ?? null, f.after ?? null, f.limit],
    );
    return rows.map(task);
  }

  /** Moves a task from one of `from` to `to`; false when it was elsewhere (someone moved it first). */
  async transition(id: string, from: readonly LearningTaskState[], to: LearningTaskState, reason: string | null, nowMs: number): Promise<boolean> {
    const rows = await this.db.query('UPDATE learning_tasks SET state = $2, reason = $3, updated_ms = $4 WHERE id = $1 AND state IN (SELECT jsonb_array_elements_text($5::jsonb)) RETURNING id', [id, to, reason, nowMs, JSON.stringify(from)]);
    if (rows.length === 1) this.changes?.learning(id, null);
    return rows.length === 1;
  }

  /** A round opened: its row, and the task's next number moves past it, in one transaction. */
  async openRound(r: { task: string; round: number; openedMs: number; deadlineMs: number; globalModel: GlobalModelRef; sampled: number }): Promise<void> {
    await this.db.query(
      `WITH t AS (UPDATE learning_tasks SET next_round = GREATEST(next_round, $2 + 1), updated_ms = $3 WHERE id = $1 RETURNING id)
       INSERT INTO learning_rounds (task_id, round, opened_ms, deadline_ms, outcome, global_model, sampled)
       SELECT t.id, $2, $3, $4, 'open', $5::jsonb, $6 FROM t`,
      [r.task, r.round, r.openedMs, r.deadlineMs, jsonParam(r.globalModel), r.sampled],
    );
    this.changes?.learning(r.task, r.round);
  }

  /**
   * A round closed: its record and release, and the task's progress (the new global model when
   * one was released, the privacy history, one more round closed), in one statement.
   */
  async closeRound(c: RoundClosing & { privacyHistory: readonly SpentRounds[] }): Promise<void> {
    const rec = c.record;
    const outcome = rec.outcome.type === 'model' ? 'model' : 'no-model';
    await this.db.query(
      `WITH r AS (
         UPDATE learning_rounds SET closed_ms = $3, outcome = $4, record = $5::jsonb, participants = $6, mean_validation_loss = $7, epsilon_spent = $8, released = $9::jsonb, release_error = $10
         WHERE task_id = $1 AND round = $2 AND outcome = 'open' RETURNING task_id)
       UPDATE learning_tasks SET rounds_closed = rounds_closed + 1, privacy_history = $11::jsonb, updated_ms = $3,
         global_model = COALESCE($9::jsonb, global_model)
       WHERE id = (SELECT task_id FROM r)`,
      [
        rec.task, rec.round, c.closedMs, outcome, jsonParam(rec), rec.participants.length, rec.validationLoss.mean, rec.privacy?.epsilon ?? null,
        c.released === null ? null : jsonParam(c.released), c.releaseError, jsonParam(c.privacyHistory),
      ],
    );
    this.changes?.learning(rec.task, rec.round);
  }

  /**
   * Rounds left open by a fleet that stopped: the updates they held were in its memory, so they
   * cannot close; they are marked abandoned (counted as closed) and their tasks open a new round.
   * Returns how many (a task has at most one open).
   */
  async abandonOpenRounds(nowMs: number): Promise<number> {
    const rows = await this.db.query<{ task_id: string }>(
      `WITH r AS (UPDATE learning_rounds SET outcome = 'abandoned', closed_ms = $1 WHERE outcome = 'open' RETURNING task_id)
       UPDATE learning_tasks t SET rounds_closed = t.rounds_closed + n.c, updated_ms = $1
       FROM (SELECT task_id, count(*)::integer AS c FROM r GROUP BY task_id) n WHERE t.id = n.task_id RETURNING t.id AS task_id`,
      [nowMs],
    );
    for (const r of rows) this.changes?.learning(r.task_id, null);
    return rows.length;
  }

  /** A task's open round, if any, abandoned (the task was stopped while it ran); true when there was one. */
  async abandonRound(taskId: string, nowMs: number): Promise<boolean> {
    const rows = await this.db.query(
      `WITH r AS (UPDATE learning_rounds SET outcome = 'abandoned', closed_ms = $2 WHERE task_id = $1 AND outcome = 'open' RETURNING task_id)
       UPDATE learning_tasks SET rounds_closed = rounds_closed + 1, updated_ms = $2 WHERE id = (SELECT task_id FROM r) RETURNING id`,
      [taskId, nowMs],
    );
    if (rows.length === 1) this.changes?.learning(taskId, null);
    return rows.length === 1;
  }

  /** A task's rounds, newest first, a page at a time (`before`: the last round number of the previous page). */
  async listRounds(taskId: string, f: { before?: number; limit: number }): Promise<LearningRound[]> {
    const rows = await this.db.query<RoundRow>('SELECT * FROM learning_rounds WHERE task_id = $1 AND ($2::bigint IS NULL OR round < $2) ORDER BY round DESC LIMIT $3', [taskId, f.before ?? null, f.limit]);
    return rows.map(round);
  }

  async getRound(taskId: string, n: number): Promise<LearningRound | undefined> {
    const r = (await this.db.query<RoundRow>('SELECT * FROM learning_rounds WHERE task_id = $1 AND round = $2', [taskId, n]))[0];
    return r === undefined ? undefined : round(r);
  }
}
