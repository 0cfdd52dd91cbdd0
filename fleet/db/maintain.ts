import type { Sql } from './sql.js';

/** The tables that see updates and deletes all day. */
const BUSY_TABLES = ['gateways', 'update_steps', 'events', 'rollout_targets', 'rollout_events', 'leases'];

/**
 * PGlite runs no autovacuum: without this, the tables updated all day (gateways' health,
 * update steps, rollout targets) and the events swept by retention keep their dead rows, grow
 * without bound and have no planner statistics. Returns false on PostgreSQL, which vacuums
 * itself (autovacuum), true when it vacuumed.
 */
export async function vacuumEmbedded(sql: Sql): Promise<boolean> {
  if (sql.backend !== 'pglite') return false;
  await sql.exec(`VACUUM (ANALYZE) ${BUSY_TABLES.join(', ')}`);
  return true;
}
