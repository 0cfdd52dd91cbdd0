import { cp, mkdir, readdir, readFile, readlink, realpath, rename, rm, symlink } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { EdgewiseError } from '../errors.js';

/**
 * The installed code: `<prefix>/versions/<version>/` (dist, bin, node_modules, package.json),
 * `<prefix>/current` -> the running one, `<prefix>/previous` -> the one before it (the pin the
 * rollback goes back to). Links are relative (`versions/0.2.0`), so a tree installed under
 * `--root` is the same tree once copied to `/`.
 */

/** What a version of edgewise is made of; nothing else of a checkout is copied. */
export const PACKAGE_PARTS = ['package.json', 'bin', 'dist', 'node_modules'] as const;

export interface SourcePackage {
  readonly dir: string;
  readonly version: string;
}

/** The edgewise package in `dir` (a checkout or an unpacked release): its version, and every part present. */
export async function readSourcePackage(dir: string): Promise<SourcePackage> {
  let pkg: { name?: unknown; version?: unknown };
  try {
    pkg = JSON.parse(await readFile(join(dir, 'package.json'), 'utf8')) as typeof pkg;
  } catch (err) {
    throw new EdgewiseError('E_INSTALL_SOURCE', `${dir} is not an edgewise package (package.json: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  if (pkg.name !== 'edgewise' || typeof pkg.version !== 'string' || !/^[0-9A-Za-z.+-]+$/.test(pkg.version)) {
    throw new EdgewiseError('E_INSTALL_SOURCE', `${dir}/package.json is not edgewise's (name ${JSON.stringify(pkg.name)}, version ${JSON.stringify(pkg.version)})`);
  }
  const present = new Set(await readdir(dir));
  const missing = PACKAGE_PARTS.filter((p) => !present.has(p));
  if (missing.length > 0) throw new EdgewiseError('E_INSTALL_SOURCE', `${dir} lacks ${missing.join(', ')} (build it first: npm ci && npm run build)`);
  return { dir, version: pkg.version };
}

/**
 * What of node_modules a gateway runs on: not the packages npm's hidden lockfile
 * (node_modules/.package-lock.json) marks `dev` (vitest, typescript, esbuild, playwright...),
 * not `.bin` (links into them), and of onnxruntime-node's prebuilt binaries only this
 * machine's platform and architecture (the others are ~200 MB). Returns the filter for
 * fs.cp and what it leaves out, for the progress line.
 */
export async function runtimeModulesFilter(modulesDir: string, platform: string = process.platform, arch: string = process.arch): Promise<{ filter: (src: string) => boolean; note: string }> {
  let dev = new Set<string>();
  let note = `${modulesDir}/.package-lock.json not found: all of node_modules copied, dev packages too`;
  try {
    const lock = JSON.parse(await readFile(join(modulesDir, '.package-lock.json'), 'utf8')) as { packages?: Record<string, { dev?: boolean }> };
    dev = new Set(Object.entries(lock.packages ?? {}).filter(([, v]) => v.dev === true).map(([k]) => k.replace(/^node_modules\//, '')));
    note = `node_modules without its ${dev.size} dev packages and other platforms' onnxruntime binaries`;
  } catch {
    // an unpacked release may come without it: copy everything
  }
  const ortBinary = /^onnxruntime-node\/bin\/napi-v\d+\/([^/]+)(?:\/([^/]+))?$/;
  const filter = (src: string): boolean => {
    const rel = relative(modulesDir, src).split(sep).join('/');
    if (rel === '') return true;
    if (rel === '.bin' || rel.startsWith('.bin/')) return false;
    if (dev.has(rel)) return false;
    const ort = ortBinary.exec(rel);
    if (ort !== null) return ort[1] === platform && (ort[2] === undefined || ort[2] === arch);
    return true;
  };
  return { filter, note };
}

async function linkTarget(link: string): Promise<string | undefined> {
  try {
    return await readlink(link);
  } catch {
    return undefined;
  }
}

/** Points `link` at `target`, replacing what was there in one rename (never a moment without a link). */
async function relink(link: string, target: string): Promise<void> {
  const tmp = `${link}.new`;
  await rm(tmp, { force: true });
  await symlink(target, tmp);
  await rename(tmp, link);
}

export interface VersionResult {
  readonly current: string;
  /** The version `previous` points at after the install, if any. */
  readonly previous: string | undefined;
  /** Versions removed (neither current nor previous). */
  readonly pruned: readonly string[];
}

/**
 * Copies the package into `<prefix>/versions/<version>` (replacing a copy of the same version:
 * a reinstall), moves `previous` to what `current` was when that is another version, points
 * `current` at the new one, and removes versions that are neither (each one is a few hundred MB
 * of node_modules on an SD card).
 */
export async function installVersion(source: SourcePackage, prefix: string, progress: (line: string) => void): Promise<VersionResult> {
  const versions = join(prefix, 'versions');
  await mkdir(versions, { recursive: true, mode: 0o755 });
  const name = `versions/${source.version}`;
  const partial = join(prefix, `${name}.partial`);
  await rm(partial, { recursive: true, force: true });
  await mkdir(partial, { recursive: true, mode: 0o755 });
  for (const part of PACKAGE_PARTS) {
    // A checkout's node_modules may be a link to a shared one: copy what it points at. Links
    // inside (node_modules/.bin) are copied as they are.
    const from = await realpath(join(source.dir, part));
    const modules = part === 'node_modules' ? await runtimeModulesFilter(from) : undefined;
    if (modules !== undefined) progress(`copying ${modules.note}`);
    await cp(from, join(partial, part), { recursive: true, verbatimSymlinks: true, preserveTimestamps: true, ...(modules === undefined ? {} : { filter: modules.filter }) });
  }
  const dest = join(prefix, name);
  const old = `${dest}.old`;
  await rm(old, { recursive: true, force: true });
  await rename(dest, old).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'ENOENT') throw err;
  });
  await rename(partial, dest);
  await rm(old, { recursive: true, force: true });
  progress(`code of edgewise ${source.version} copied to ${dest}`);

  const was = await linkTarget(join(prefix, 'current'));
  let previous = await linkTarget(join(prefix, 'previous'));
  if (was !== undefined && was !== name) {
    await relink(join(prefix, 'previous'), was);
    previous = was;
  }
  await relink(join(prefix, 'current'), name);
  progress(`current -> ${name}${previous === undefined ? '' : `, previous -> ${previous}`}`);

  const keep = new Set([name, previous].filter((v): v is string => v !== undefined).map((v) => v.replace(/^versions\//, '')));
  const pruned: string[] = [];
  for (const entry of await readdir(versions)) {
    if (keep.has(entry)) continue;
    await rm(join(versions, entry), { recursive: true, force: true });
    pruned.push(entry);
  }
  if (pruned.length > 0) progress(`removed versions ${pruned.join(', ')} (only current and previous are kept)`);
  return { current: source.version, previous: previous?.replace(/^versions\//, ''), pruned };
}
