/**
 * The one query interface the fleet uses, whichever database is behind it. Everything
 * outside `fleet/db/` talks SQL through this and never learns which backend it has.
 *
 * Both backends speak PostgreSQL, so the SQL is the same; what differs is only how values
 * come back. Here they are made equal: `bigint` columns (counts, milliseconds since 1970)
 * and `numeric` arrive as JavaScript numbers, `jsonb` as parsed JSON. Store times as
 * `bigint` milliseconds, not `timestamptz`, so nothing depends on time zones or parsers.
 */
export interface Queryable {
  /** One statement with `$1`-style parameters; returns its rows. Input never goes into the text. */
  query<Row = Record<string, unknown>>(text: string, params?: readonly unknown[]): Promise<Row[]>;
}

export type Backend = 'pglite' | 'postgres';

export interface Statement {
  readonly text: string;
  readonly params: readonly unknown[];
}

export interface Sql extends Queryable {
  readonly backend: Backend;
  /** Runs `fn` in one transaction (BEGIN ... COMMIT, ROLLBACK when it throws). */
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>;
  /**
   * Runs statements in one transaction in one go, returning each one's rows: no round trip
   * between them (for PGlite in its worker: no wait on this thread's event loop in between).
   */
  batch(statements: readonly Statement[]): Promise<unknown[][]>;
  /** Several statements without parameters (migrations). */
  exec(text: string): Promise<void>;
  close(): Promise<void>;
}

/** A database that failed or refused a statement: the statement's purpose and the server's words. */
export class DatabaseError extends Error {
  readonly code = 'E_DB';
  constructor(
    message: string,
    /** SQLSTATE from the server when there is one (23505: unique violation, ...). */
    readonly sqlState: string | undefined,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'DatabaseError';
  }
}

export function asDatabaseError(err: unknown, text: string): DatabaseError {
  if (err instanceof DatabaseError) return err;
  const e = err as { message?: string; code?: unknown };
  const head = text.replace(/\s+/g, ' ').trim().slice(0, 80);
  return new DatabaseError(`database: ${e.message ?? String(err)} (in: ${head})`, typeof e.code === 'string' ? e.code : undefined, { cause: err });
}

/**
 * A Queryable that runs nothing: it collects the statements that store methods issue, to be
 * run later with `Sql.batch`. Every query answers no rows, so use it only with methods whose
 * result does not depend on what their statements return.
 */
export class StatementRecorder implements Queryable {
  readonly statements: Statement[] = [];
  async query<Row>(text: string, params: readonly unknown[] = []): Promise<Row[]> {
    this.statements.push({ text, params });
    return [];
  }
}
