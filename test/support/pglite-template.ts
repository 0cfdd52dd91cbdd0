import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cp, mkdtemp, readFile, rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const PGLITE_URL = import.meta.resolve('@electric-sql/pglite');

/** Where the pristine data directory is kept: one per PGlite version and user, shared by every test process. */
async function templateDir(): Promise<string> {
  // The package exports no ./package.json: found above its entry point.
  let at = dirname(fileURLToPath(PGLITE_URL));
  while (!existsSync(join(at, 'package.json'))) at = dirname(at);
  const pkg = JSON.parse(await readFile(join(at, 'package.json'), 'utf8')) as { name: string; version: string };
  if (pkg.name !== '@electric-sql/pglite') throw new Error(`expected PGlite's package.json above ${PGLITE_URL}, found ${pkg.name}'s`);
  return join(tmpdir(), `edgewise-pglite-initdb-${pkg.version}-${process.getuid?.() ?? 'u'}`);
}

let made: Promise<string> | undefined;

/**
 * A data directory straight out of PGlite's initdb, made once (the same script as
 * fleet/db/pglite.ts runs in its child: `PGlite.create({ dataDir })` then close) and reused.
 * initdb in WebAssembly costs about 6 s of CPU, which every fleet started on a new data
 * directory paid. Made in a private directory and renamed into place, so two test processes
 * making it at once both end with a whole one.
 */
function pristine(): Promise<string> {
  made ??= (async () => {
    const dir = await templateDir();
    if (existsSync(join(dir, 'PG_VERSION'))) return dir;
    const work = await mkdtemp(`${dir}.tmp-`);
    const db = join(work, 'db');
    const script = `const { PGlite } = await import(${JSON.stringify(PGLITE_URL)});
const db = await PGlite.create({ dataDir: ${JSON.stringify(db)} });
await db.close();`;
    await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], { timeout: 120_000 });
    await rename(db, dir).catch(() => undefined); // another process was first: its copy is as good
    await rm(work, { recursive: true, force: true });
    if (!existsSync(join(dir, 'PG_VERSION'))) throw new Error(`the PGlite template ${dir} was not made`);
    return dir;
  })();
  return made;
}

/**
 * Puts a freshly initialised, empty PGlite data directory at `FLEET_DATA/db`, where
 * `edgewise fleet --db embedded` looks for it: the fleet then skips its own initdb (it does
 * when `db/PG_VERSION` exists) and goes on as on any first start (migrations, keys, the
 * operator token). For tests that start a fleet on a new data directory and are not about
 * its initdb.
 */
export async function seedFleetDatabase(fleetDataDir: string): Promise<void> {
  await cp(await pristine(), join(fleetDataDir, 'db'), { recursive: true, errorOnExist: true, force: false });
}
