#!/usr/bin/env node
// `npm start`: the simulated factory of sim/scenarios/default.yaml, from a fresh `npm ci`.
// Makes sure the simulator's Debian programs are there (socat, installed with apt-get when
// root; otherwise the exact line to run), builds if a source is newer than the build, then runs
// `edgewise sim` with any arguments given after `--` (another scenario file first, say).
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const run = (cmd, args) => spawnSync(cmd, args, { cwd: root, stdio: 'inherit' }).status ?? 1;

const programs = run(process.execPath, [join(root, 'scripts/ensure-test-programs.mjs'), '--sim']);
if (programs !== 0) process.exit(programs);

/** The newest modification time under `dir` of files the build reads (TypeScript, TSX, YAML, JSON, CSS). */
function newest(dir) {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (e.name === 'node_modules' || e.name === 'dist' || e.name.startsWith('.')) continue;
    const p = join(dir, e.name);
    if (e.isDirectory()) t = Math.max(t, newest(p));
    else if (/\.(ts|tsx|css|json|yaml|html)$/.test(e.name)) t = Math.max(t, statSync(p).mtimeMs);
  }
  return t;
}
const built = (() => {
  try {
    return Math.min(statSync(join(root, 'dist/cli/main.js')).mtimeMs, statSync(join(root, 'dist/console/index.html')).mtimeMs);
  } catch {
    return 0;
  }
})();
const sources = ['cli', 'devices', 'fleet', 'models', 'runtime', 'sim', 'firmware-bridge'].map((d) => {
  try {
    return newest(join(root, d));
  } catch {
    return 0;
  }
});
if (built === 0 || Math.max(...sources, statSync(join(root, 'package.json')).mtimeMs) > built) {
  console.error(built === 0 ? 'building (first run: about a minute)' : 'building (sources changed since the last build)');
  const b = run('npm', ['run', 'build', '--silent']);
  if (b !== 0) process.exit(b);
}

const args = process.argv.slice(2);
const scenario = args.length > 0 && !args[0].startsWith('-') ? [] : ['sim/scenarios/default.yaml'];
process.exit(run(join(root, 'bin/edgewise'), ['sim', ...scenario, ...args]));
