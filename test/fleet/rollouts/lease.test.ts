import { describe, expect, it } from 'vitest';
import { Lease } from '../../../fleet/rollouts/lease.js';
import { waitFor } from '../../support/wait-for.js';
import { BACKENDS, useFleetDb } from '../../support/fleet-db.js';

describe.each(BACKENDS)('the rollouts lease on %s', (backend) => {
  const db = useFleetDb(backend);

  it('has one holder at a time, renews for its holder only, and passes on when it expires or is released', async () => {
    await db.reset();
    const a = new Lease(db.sql, 'rollouts', 'fleet-a', 1500);
    const b = new Lease(db.sql, 'rollouts', 'fleet-b', 1500);
    expect(await a.acquire()).toBe(true);
    expect(await b.acquire()).toBe(false);
    expect(await a.acquire()).toBe(true);
    const held = await b.current();
    expect(held?.holder).toBe('fleet-a');
    // Judged by the database's clock: what is left is at most the ttl.
    expect(held?.remainingMs).toBeGreaterThan(0);
    expect(held?.remainingMs).toBeLessThanOrEqual(1500);
    // a stops renewing (killed): b gets it once it expired, not before.
    await waitFor(async () => b.acquire(), 'the lease to pass to b after it expired', 10_000, 100);
    expect(((await a.current())?.remainingMs ?? 0) > 0).toBe(true);
    expect(await a.acquire()).toBe(false);
    // A clean stop gives it up at once.
    await b.release();
    expect(await a.acquire()).toBe(true);
  });
});
