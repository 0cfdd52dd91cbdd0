#!/usr/bin/env node
// Runs the suite's core (store, uplink, updater and TUF client tests) on another Node.js line,
// taken from the npm registry by scripts/fetch-node.mjs, so that a difference between Node.js
// lines shows up in `npm test` (which runs `node scripts/test-node.mjs 24` after the main run).
//
//   node scripts/test-node.mjs 24 [test paths instead of the core] [vitest options]
//
// Vitest's CLI itself runs on that node, and so do its workers (they fork process.execPath).
// That node's directory is put first on PATH, so a test that spawns `node` or bin/edgewise gets it
// too. The TUF conformance file is left out: it drives bin/edgewise from Python's harness for
// about a minute and tests the same client code the TUF attack tests cover in-process.
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fetchNode } from './fetch-node.mjs';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

/** The core: everything that keeps and delivers records and that verifies updates. */
export const CORE = ['test/runtime/store/', 'test/runtime/uplink/', 'test/runtime/updater/'];
export const LEFT_OUT = ['test/runtime/updater/tuf-conformance.test.ts'];

const [version, ...rest] = process.argv.slice(2);
if (version === undefined) {
  console.error('usage: node scripts/test-node.mjs VERSION [vitest arguments]   (VERSION: 24, 22 or 20.20.2)');
  process.exit(2);
}
const node = fetchNode(version);
const started = Date.now();
const shown = spawnSync(node, ['--version'], { encoding: 'utf8' }).stdout.trim();
console.error(`suite core on Node.js ${shown} (${node})`);
// Test files or folders given after the version replace the core (`test-node.mjs 22 test/runtime/store/`).
const paths = rest.filter((a) => !a.startsWith('-'));
const args = [
  join(ROOT, 'node_modules', 'vitest', 'vitest.mjs'),
  'run',
  ...(paths.length > 0 ? [] : CORE),
  ...LEFT_OUT.map((f) => `--exclude=${f}`),
  ...rest,
];
const result = spawnSync(node, args, {
  cwd: ROOT,
  stdio: 'inherit',
  env: { ...process.env, PATH: `${dirname(node)}:${process.env.PATH ?? ''}` },
});
console.error(`suite core on Node.js ${shown}: exit ${result.status ?? result.signal} after ${((Date.now() - started) / 1000).toFixed(1)} s`);
process.exit(result.status ?? 1);
