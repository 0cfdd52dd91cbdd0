import type { Queryable } from '../db/open-database.js';

/** The database's clock, in ms since the epoch (the same on PGlite and PostgreSQL). */
const DB_NOW_MS = `(extract(epoch from clock_timestamp()) * 1000)::bigint`;

/**
 * A lease in the database: at most one holder at a time, for `ttlMs` after its last renewal.
 * A fleet instance that stops renewing (killed, cut off from the database) loses it when it
 * expires, and another instance takes it over. Works the same on PGlite and PostgreSQL: one
 * statement, decided by the row. Expiry is judged by the database's clock, so fleet hosts
 * whose clocks disagree cannot both hold it; a holder counts its own time from before it asked.
 */
export class Lease {
  constructor(
    private readonly db: Queryable,
    readonly name: string,
    readonly holder: string,
    readonly ttlMs: number,
  ) {}

  /** Takes or renews the lease; true when this holder has it for ttlMs from (at the latest) now. */
  async acquire(): Promise<boolean> {
    const rows = await this.db.query<{ holder: string }>(
      `INSERT INTO leases (name, holder, expires_ms) VALUES ($1, $2, ${DB_NOW_MS} + $3)
       ON CONFLICT (name) DO UPDATE SET holder = EXCLUDED.holder, expires_ms = EXCLUDED.expires_ms
         WHERE leases.holder = EXCLUDED.holder OR leases.expires_ms < ${DB_NOW_MS}
       RETURNING holder`,
      [this.name, this.holder, this.ttlMs],
    );
    return rows.length === 1;
  }

  /** Gives the lease up (a clean stop): another instance need not wait for it to expire. */
  async release(): Promise<void> {
    await this.db.query('DELETE FROM leases WHERE name = $1 AND holder = $2', [this.name, this.holder]);
  }

  /** Who holds it, and for how long yet by the database's clock (negative: expired, free to take). */
  async current(): Promise<{ holder: string; expiresMs: number; remainingMs: number } | undefined> {
    const r = (await this.db.query<{ holder: string; expires_ms: number | string; remaining_ms: number | string }>(`SELECT holder, expires_ms, expires_ms - ${DB_NOW_MS} AS remaining_ms FROM leases WHERE name = $1`, [this.name]))[0];
    return r === undefined ? undefined : { holder: r.holder, expiresMs: Number(r.expires_ms), remainingMs: Number(r.remaining_ms) };
  }
}
