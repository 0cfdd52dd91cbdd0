import { describe, expect, it } from 'vitest';
import { vacuumEmbedded } from '../../../fleet/db/maintain.js';
import { BACKENDS, useFleetDb } from '../../support/fleet-db.js';

describe.each(BACKENDS)('database upkeep on %s', (backend) => {
  const db = useFleetDb(backend);

  it('vacuums and analyses the busy tables on PGlite (which has no autovacuum), and leaves PostgreSQL to its own', async () => {
    await db.reset();
    await db.sql.query(
      `INSERT INTO gateways (id, site, labels, password_scrypt, password_mosquitto, created_ms)
       SELECT 'gw-' || i, '', '{}'::jsonb, 'x', 'y', 1 FROM generate_series(1, 300) AS i`,
    );
    // Every row updated three times: dead versions to reclaim.
    for (let k = 0; k < 3; k += 1) await db.sql.query('UPDATE gateways SET last_seen_ms = $1', [k]);
    const did = await vacuumEmbedded(db.sql);
    expect(did).toBe(backend === 'pglite');
    if (backend === 'pglite') {
      // ANALYZE ran: the planner knows the table's size now.
      const rows = await db.sql.query<{ reltuples: number }>(`SELECT reltuples FROM pg_class WHERE relname = 'gateways'`);
      expect(Number(rows[0]?.reltuples)).toBe(300);
    }
  });
});
