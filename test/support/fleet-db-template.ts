import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readFile, readdir, rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openDatabase } from '../../fleet/db/open-database.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/**
 * What the template depends on: the PGlite release, how the fleet opens it and every migration.
 * A change to any of them makes a new template (under another name).
 */
async function templateKey(): Promise<string> {
  const hash = createHash('sha256');
  // The package's own package.json is not in its exports: found from its entry point.
  let pkg = dirname(fileURLToPath(import.meta.resolve('@electric-sql/pglite')));
  while (!existsSync(join(pkg, 'package.json'))) pkg = dirname(pkg);
  hash.update(await readFile(join(pkg, 'package.json')));
  for (const f of ['fleet/db/pglite.ts', 'fleet/db/migrate.ts', 'fleet/db/open-database.ts']) hash.update(await readFile(join(ROOT, f)));
  const migrations = join(ROOT, 'fleet/db/migrations');
  for (const f of (await readdir(migrations)).sort()) hash.update(f).update(await readFile(join(migrations, f)));
  return hash.digest('hex').slice(0, 16);
}

let template: Promise<string> | undefined;

/**
 * A fleet database as `openDatabase('embedded', ...)` leaves it on its first start (initdb,
 * then every migration), made once per machine and schema under the temporary directory.
 * initdb in WebAssembly is most of a fleet's start (15 to 20 s of CPU on a loaded 2-core box;
 * reopening the directory takes under a second). Two test workers may make it at once: each
 * makes its own and renames it into place; the second rename fails and its copy is dropped.
 */
export function fleetDbTemplate(): Promise<string> {
  template ??= (async () => {
    const path = join(tmpdir(), `edgewise-test-fleet-db-${await templateKey()}`);
    if (existsSync(join(path, 'PG_VERSION'))) return path;
    const work = await mkdtemp(`${path}.making-`);
    const sql = await openDatabase('embedded', work);
    await sql.close();
    try {
      await rename(join(work, 'db'), path);
    } catch (err) {
      if (!existsSync(join(path, 'PG_VERSION'))) throw err;
    } finally {
      await rm(work, { recursive: true, force: true });
    }
    return path;
  })();
  return template;
}

/**
 * Puts a copy of the template where a fleet with data directory `fleetDataDir` keeps its
 * embedded database (`DATA_DIR/db`), so its start opens and migrates an existing database (a
 * no-op) instead of running initdb. Everything else in the data directory (token, keys, lock)
 * the fleet makes itself as on any first start.
 */
export async function seedFleetDb(fleetDataDir: string): Promise<void> {
  await mkdir(fleetDataDir, { recursive: true });
  await cp(await fleetDbTemplate(), join(fleetDataDir, 'db'), { recursive: true });
}
