import pg from 'pg';
import { asDatabaseError, type Queryable, type Sql, type Statement } from './sql.js';

/** int8 and numeric as numbers, as PGlite gives them here (node-postgres returns strings). */
const typeParsers = {
  getTypeParser(oid: number, format?: 'text' | 'binary'): (value: string) => unknown {
    if (oid === 20 || oid === 1700) return (v: string) => Number(v);
    return pg.types.getTypeParser(oid, format);
  },
};

function wrap(q: { query(config: pg.QueryConfig): Promise<pg.QueryResult> }): Queryable {
  return {
    async query<Row>(text: string, params: readonly unknown[] = []): Promise<Row[]> {
      try {
        return (await q.query({ text, values: [...params], types: typeParsers })).rows as Row[];
      } catch (err) {
        throw asDatabaseError(err, text);
      }
    },
  };
}

export interface PostgresOptions {
  /** Connections in the pool at most. */
  readonly maxConnections?: number;
  /** Give up on a connection attempt after this long. */
  readonly connectTimeoutMs?: number;
}

/**
 * A PostgreSQL server (or anything speaking its wire protocol) through node-postgres, with a
 * pool. Several fleet instances may share one database: whatever must happen once (the
 * migrations, driving a rollout) takes a lock in the database itself.
 */
export async function openPostgres(url: string, options: PostgresOptions = {}): Promise<Sql> {
  // Keepalive and a statement timeout: after a failover a dead connection must fail, not hang ingest.
  const pool = new pg.Pool({ connectionString: url, max: options.maxConnections ?? 8, connectionTimeoutMillis: options.connectTimeoutMs ?? 10_000, keepAlive: true, keepAliveInitialDelayMillis: 10_000, statement_timeout: 60_000, query_timeout: 65_000 });
  // An idle client that loses its server emits 'error' on the pool; without a listener that
  // would kill the process. The next query gets a fresh connection (or a clear error).
  pool.on('error', () => undefined);
  try {
    const c = await pool.connect();
    c.release();
  } catch (err) {
    await pool.end();
    throw asDatabaseError(err, `connect to ${redactUrl(url)}`);
  }
  const q = wrap(pool);
  const sql: Sql = {
    backend: 'postgres',
    query: q.query,
    async transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
      const client = await pool.connect().catch((err: unknown) => {
        throw asDatabaseError(err, 'connect');
      });
      try {
        await client.query('BEGIN').catch((err: unknown) => {
          throw asDatabaseError(err, 'BEGIN');
        });
        const result = await fn(wrap(client));
        await client.query('COMMIT').catch((err: unknown) => {
          throw asDatabaseError(err, 'COMMIT');
        });
        return result;
      } catch (err) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw err;
      } finally {
        client.release();
      }
    },
    async batch(statements: readonly Statement[]): Promise<unknown[][]> {
      return sql.transaction(async (tx) => {
        const results: unknown[][] = [];
        for (const st of statements) results.push(await tx.query(st.text, st.params));
        return results;
      });
    },
    async exec(text: string): Promise<void> {
      try {
        await pool.query(text);
      } catch (err) {
        throw asDatabaseError(err, text);
      }
    },
    close: () => pool.end(),
  };
  return sql;
}

/** The URL without its password, for messages and logs. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password !== '') u.password = '***';
    return u.toString();
  } catch {
    return '(invalid url)';
  }
}
