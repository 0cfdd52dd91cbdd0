import { readFile, readdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { Sql } from './sql.js';

/** Where the numbered migration files live (copied beside the compiled code by the build). */
export const MIGRATIONS_DIR = fileURLToPath(new URL('./migrations/', import.meta.url));

export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
}

/** `0001_registry.sql` -> version 1, name registry. Files that do not look like that are an error. */
export async function loadMigrations(dir = MIGRATIONS_DIR): Promise<Migration[]> {
  const files = (await readdir(dir)).filter((f) => f.endsWith('.sql')).sort();
  const out: Migration[] = [];
  for (const f of files) {
    const m = /^(\d{4})_([a-z0-9_]+)\.sql$/.exec(f);
    if (m === null) throw new Error(`migration ${f}: expected a name like 0001_registry.sql`);
    const version = Number(m[1]);
    if (version !== out.length + 1) throw new Error(`migration ${f}: expected version ${out.length + 1} (no gaps, no duplicates)`);
    out.push({ version, name: m[2] as string, sql: await readFile(`${dir}/${f}`, 'utf8') });
  }
  return out;
}

/** Any fixed number: the advisory lock that serialises migrations across fleet instances. */
const MIGRATION_LOCK = 72_0510_001;

/**
 * Applies the migrations that the database has not seen, each in its own transaction, in
 * order. Several fleet instances starting at once on one PostgreSQL serialise on an advisory
 * lock, so each migration runs once. A database newer than this code (a version we do not
 * know) is refused rather than used half-understood.
 */
export async function migrate(sql: Sql, migrations?: readonly Migration[]): Promise<{ applied: number[]; version: number }> {
  const all = migrations ?? (await loadMigrations());
  const applied: number[] = [];
  await sql.transaction(async (tx) => {
    // The lock first: two instances creating the bookkeeping table at once collide otherwise.
    await tx.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
    await tx.query('CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_ms bigint NOT NULL)');
    const rows = await tx.query<{ version: number }>('SELECT version FROM schema_migrations ORDER BY version');
    const done = new Set(rows.map((r) => r.version));
    const newest = Math.max(0, ...done);
    if (newest > all.length) throw new Error(`database schema is version ${newest}, newer than this fleet (${all.length}): run the newer fleet, or restore a backup`);
    for (const m of all) {
      if (done.has(m.version)) continue;
      for (const statement of splitStatements(m.sql)) await tx.query(statement);
      await tx.query('INSERT INTO schema_migrations (version, name, applied_ms) VALUES ($1, $2, $3)', [m.version, m.name, Date.now()]);
      applied.push(m.version);
    }
  });
  return { applied, version: all.length };
}

/**
 * Splits a migration file into statements on `;` at line ends, dropping `--` comments.
 * Migrations are plain DDL: no functions with bodies, so this is enough (and checked by
 * applying every migration in the tests on both backends).
 */
export function splitStatements(text: string): string[] {
  const noComments = text
    .split('\n')
    .map((l) => l.replace(/--.*$/, ''))
    .join('\n');
  return noComments
    .split(/;\s*(?:\n|$)/)
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}
