import { describe, expect, it } from 'vitest';
import { jsonParam } from '../../../fleet/db/json.js';
import { loadMigrations, migrate, splitStatements } from '../../../fleet/db/migrate.js';
import { BACKENDS, useFleetDb } from '../../support/fleet-db.js';

describe.each(BACKENDS)('fleet database on %s', (backend) => {
  const db = useFleetDb(backend);

  it('returns bigint and count(*) as numbers, jsonb as parsed JSON, on either backend', async () => {
    const rows = await db.sql.query<{ big: unknown; n: unknown; j: unknown }>(`SELECT 1795530000000::bigint AS big, count(*) AS n, '{"a":[1,"x"]}'::jsonb AS j FROM (VALUES (1), (2)) v(x)`);
    expect(rows).toEqual([{ big: 1795530000000, n: 2, j: { a: [1, 'x'] } }]);
  });

  it('applies the migrations once: a second run applies nothing', async () => {
    const again = await migrate(db.sql);
    expect(again.applied).toEqual([]);
    expect(again.version).toBe((await loadMigrations()).length);
  });

  it('refuses a database whose schema is newer than the code', async () => {
    const all = await loadMigrations();
    expect(all.length).toBeGreaterThan(0);
    await expect(migrate(db.sql, [])).rejects.toThrow(/newer than this fleet/);
  });

  it('rolls a transaction back when its function throws', async () => {
    await db.reset();
    await expect(
      db.sql.transaction(async (tx) => {
        await tx.query(`INSERT INTO fleet_settings (key, value) VALUES ('k', '1'::jsonb)`);
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    expect(await db.sql.query('SELECT * FROM fleet_settings')).toEqual([]);
  });

  it('stores strings with NUL characters and byte strings in jsonb', async () => {
    await db.reset();
    const value = { 'k\u0000': 'a\u0000b', png: new Uint8Array([1, 2, 3]), text: 'back\\u0000slash' };
    await db.sql.query('INSERT INTO fleet_settings (key, value) VALUES ($1, $2::jsonb)', ['x', jsonParam(value)]);
    const rows = await db.sql.query<{ value: unknown }>('SELECT value FROM fleet_settings');
    expect(rows[0]?.value).toEqual({ 'k\ufffd': 'a\ufffdb', png: { $base64: 'AQID' }, text: 'back\\u0000slash' });
  });

  it('names the statement and the server error when a query fails', async () => {
    await expect(db.sql.query('SELECT * FROM no_such_table')).rejects.toMatchObject({ code: 'E_DB', sqlState: '42P01', message: expect.stringMatching(/no_such_table.*in: SELECT/) as unknown });
  });
});

describe('migration files', () => {
  it('split into statements on semicolons at line ends, comments dropped', () => {
    expect(splitStatements('-- a comment; here\nCREATE TABLE a (x int);\nCREATE INDEX b ON a (x);\n')).toEqual(['CREATE TABLE a (x int)', 'CREATE INDEX b ON a (x)']);
  });
});

describe.each(BACKENDS)('statement batches on %s', (backend) => {
  const db = useFleetDb(backend);

  it('runs a batch in one transaction and returns each statement\'s rows; a failing statement undoes the batch', async () => {
    await db.reset();
    const results = await db.sql.batch([
      { text: `INSERT INTO fleet_settings (key, value) VALUES ($1, '1'::jsonb) RETURNING key`, params: ['a'] },
      { text: 'SELECT count(*) AS n FROM fleet_settings', params: [] },
    ]);
    expect(results).toEqual([[{ key: 'a' }], [{ n: 1 }]]);
    await expect(
      db.sql.batch([
        { text: `INSERT INTO fleet_settings (key, value) VALUES ($1, '1'::jsonb)`, params: ['b'] },
        { text: `INSERT INTO fleet_settings (key, value) VALUES ($1, '1'::jsonb)`, params: ['a'] },
      ]),
    ).rejects.toMatchObject({ code: 'E_DB', sqlState: '23505' });
    expect(await db.sql.query('SELECT key FROM fleet_settings ORDER BY key')).toEqual([{ key: 'a' }]);
  });
});

describe('PGlite on disk', () => {
  it('runs with fsync on, through to the disk: acknowledged commits survive a power cut', async () => {
    const { makeTempDir } = await import('../../support/temp-dir.js');
    const { openPglite } = await import('../../../fleet/db/pglite.js');
    const dir = await makeTempDir();
    try {
      const sql = await openPglite(`${dir.path}/db`);
      try {
        expect(await sql.query('SHOW fsync')).toEqual([{ fsync: 'on' }]);
        expect(await sql.query('SHOW wal_sync_method')).toEqual([{ wal_sync_method: 'fsync' }]);
        await sql.exec('CREATE TABLE t (x int)');
        await sql.query('INSERT INTO t VALUES (1)');
      } finally {
        await sql.close();
      }
      // Reopened (as after a crash): the row is there.
      const again = await openPglite(`${dir.path}/db`);
      expect(await again.query('SELECT x FROM t')).toEqual([{ x: 1 }]);
      await again.close();
    } finally {
      await dir.remove();
    }
  }, 60_000);
});
