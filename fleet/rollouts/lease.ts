import type { Queryable } from '../db/open-database.js';

/**
 * A lease in the database: at most one holder at a time, for `ttlMs` after its last renewal.
 * A fleet instance that stops renewing (killed, cut off from the database) loses it when it
 * expires, and another instance takes it over. Works the same on PGlite and PostgreSQL: one
 * statement, decided by the row.
 */
export class Lease {
  constructor(
    private readonly db: Queryable,
    readonly name: string,
    readonly holder: string,
    readonly ttlMs: number,
  ) {}

  /** Takes or renews the lease; true when this holder has it until nowMs + ttlMs. */
  async acquire(nowMs: number): Promise<boolean> {
    const rows = await this.db.query<{ holder: string }>(
      `INSERT INTO leases (name, holder, expires_ms) VALUES ($1, $2, $3)
       ON CONFLICT (name) DO UPDATE SET holder = EXCLUDED.holder, expires_ms = EXCLUDED.expires_ms
         WHERE leases.holder = EXCLUDED.holder OR leases.expires_ms < $4
       RETURNING holder`,
      [this.name, this.holder, nowMs + this.ttlMs, nowMs],
    );
    return rows.length === 1;
  }

  /** Gives the lease up (a clean stop): another instance need not wait for it to expire. */
  async release(): Promise<void> {
    await this.db.query('DELETE FROM leases WHERE name = $1 AND holder = $2', [this.name, this.holder]);
  }

  async current(): Promise<{ holder: string; expiresMs: number } | undefined> {
    const r = (await this.db.query<{ holder: string; expires_ms: number }>('SELECT holder, expires_ms FROM leases WHERE name = $1', [this.name]))[0];
    return r === undefined ? undefined : { holder: r.holder, expiresMs: r.expires_ms };
  }
}
