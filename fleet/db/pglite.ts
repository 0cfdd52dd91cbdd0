import { PGlite, types } from '@electric-sql/pglite';
import { asDatabaseError, type Queryable, type Sql } from './sql.js';

/** int8 and numeric as numbers: counts and millisecond times fit in 2^53. */
const parsers = {
  [types.INT8]: (v: string): number => Number(v),
  [types.NUMERIC]: (v: string): number => Number(v),
};

function wrap(q: { query<R>(text: string, params?: unknown[]): Promise<{ rows: R[] }> }): Queryable {
  return {
    async query<Row>(text: string, params: readonly unknown[] = []): Promise<Row[]> {
      try {
        return (await q.query<Row>(text, [...params])).rows;
      } catch (err) {
        throw asDatabaseError(err, text);
      }
    },
  };
}

/**
 * PGlite: PostgreSQL compiled to WebAssembly, in this process, persisted in a directory
 * (or in memory when `dir` is undefined). One connection; PGlite runs statements one at a
 * time. It does not lock its directory: the fleet's data-dir lock must be held first.
 */
export async function openPglite(dir: string | undefined): Promise<Sql> {
  const db = await PGlite.create({ ...(dir === undefined ? {} : { dataDir: dir }), parsers });
  const q = wrap(db);
  return {
    backend: 'pglite',
    query: q.query,
    async transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
      let inside = false;
      try {
        return await db.transaction((tx) => {
          inside = true;
          return fn(wrap(tx));
        });
      } catch (err) {
        // What `fn` threw passes through as it is; PGlite's own failures (closed, BEGIN) become DatabaseErrors.
        throw inside ? err : asDatabaseError(err, 'BEGIN');
      }
    },
    async exec(text: string): Promise<void> {
      try {
        await db.exec(text);
      } catch (err) {
        throw asDatabaseError(err, text);
      }
    },
    close: () => db.close(),
  };
}
