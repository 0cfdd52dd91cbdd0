import { afterAll, beforeAll } from 'vitest';
import { migrate } from '../../fleet/db/migrate.js';
import { openPglite } from '../../fleet/db/pglite.js';
import { openPostgres } from '../../fleet/db/postgres.js';
import type { Sql } from '../../fleet/db/sql.js';
import { PostgresServer } from './postgres.js';

export type BackendName = 'pglite' | 'postgres';
export const BACKENDS: readonly BackendName[] = ['pglite', 'postgres'];

/** Every table the migrations make, emptied between tests. */
const TABLES = ['gateway_metrics', 'learning_rounds', 'learning_tasks', 'rollout_events', 'rollout_targets', 'rollouts', 'leases', 'update_steps', 'events', 'operator_tokens', 'fleet_settings', 'gateways'];

/**
 * A migrated fleet database on one backend for a test file: PGlite in memory (creating one
 * takes seconds, so one per file), or a database on Debian's PostgreSQL started for the file.
 * `reset()` empties every table, for a clean slate per test.
 */
export interface FleetDbRig {
  sql: Sql;
  /** For PostgreSQL: the URL of this file's database (a second connection, a second fleet). */
  url: string | undefined;
  reset(): Promise<void>;
}

let databaseCounter = 0;

export function useFleetDb(backend: BackendName): FleetDbRig {
  const rig = {} as FleetDbRig;
  let server: PostgresServer | undefined;
  beforeAll(async () => {
    if (backend === 'pglite') {
      rig.sql = await openPglite(undefined);
      rig.url = undefined;
    } else {
      server = await PostgresServer.start();
      databaseCounter += 1;
      rig.url = server.createDatabase(`fleet_${process.pid}_${databaseCounter}`);
      rig.sql = await openPostgres(rig.url);
    }
    await migrate(rig.sql);
    rig.reset = async () => {
      await rig.sql.exec(`TRUNCATE ${TABLES.join(', ')}`);
    };
  }, 120_000);
  afterAll(async () => {
    await rig.sql?.close();
    await server?.stop();
  });
  return rig;
}
