import type { Queryable, Sql, Statement } from './sql.js';

export type SqlOp = 'query' | 'batch' | 'transaction';

/** The same database, each query, batch and transaction timed (for the fleet's database-latency metric). */
export function timedSql(sql: Sql, observe: (op: SqlOp, seconds: number) => void): Sql {
  const time = async <T>(op: SqlOp, run: () => Promise<T>): Promise<T> => {
    const t0 = performance.now();
    try {
      return await run();
    } finally {
      observe(op, (performance.now() - t0) / 1000);
    }
  };
  return {
    backend: sql.backend,
    query: <Row>(text: string, params?: readonly unknown[]) => time('query', () => sql.query<Row>(text, params)),
    batch: (statements: readonly Statement[]) => time('batch', () => sql.batch(statements)),
    transaction: <T>(fn: (tx: Queryable) => Promise<T>) => time('transaction', () => sql.transaction(fn)),
    exec: (text: string) => sql.exec(text),
    close: () => sql.close(),
  };
}
