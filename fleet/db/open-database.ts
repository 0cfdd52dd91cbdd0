import { join } from 'node:path';
import { migrate } from './migrate.js';
import { openPglite } from './pglite.js';
import { openPostgres, redactUrl } from './postgres.js';
import type { Sql } from './sql.js';

export type { Backend, Queryable, Sql, Statement } from './sql.js';
export { DatabaseError, StatementRecorder } from './sql.js';

/**
 * Opens fleet state: `embedded` (PGlite under DATA_DIR/db) or a `postgres://` URL, and
 * brings its schema up to date. The only place that chooses a backend.
 */
export async function openDatabase(db: string, dataDir: string): Promise<Sql> {
  let sql: Sql;
  if (db === 'embedded') sql = await openPglite(join(dataDir, 'db'));
  else if (db === 'memory') sql = await openPglite(undefined);
  else if (/^postgres(ql)?:\/\//.test(db)) sql = await openPostgres(db);
  else throw new Error(`--db: expected embedded or a postgres:// URL, got ${JSON.stringify(db)}`);
  try {
    await migrate(sql);
  } catch (err) {
    await sql.close();
    throw err;
  }
  return sql;
}

/** For messages: the database without secrets. */
export function describeDatabase(db: string, dataDir: string): string {
  return db === 'embedded' ? `embedded PGlite in ${join(dataDir, 'db')}` : db === 'memory' ? 'in-memory PGlite' : redactUrl(db);
}
