#!/usr/bin/env node
// Applies the project's small fixes to installed packages (`npm ci` runs it as `postinstall`;
// an install with --ignore-scripts runs it itself). Each fix replaces one exact text of one
// file of one package version; applying twice changes nothing. A package whose text no longer
// matches (an upgrade) stops the install with the fix's reason, so whoever upgrades checks
// whether the fix is still needed instead of losing it silently.
//
// `--check`: applies nothing, exits 1 if a fix is not applied.
//
// Why not patch-package: it is a devDependency-sized tool (15 packages), and a gateway's
// `npm ci --omit=dev` would then have to carry it or skip the fix.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const FIXES = [
  {
    pkg: 'cbor-x',
    version: '1.6.9',
    // The ESM source gateways import, and the CommonJS bundle `require` gets.
    files: ['encode.js', 'dist/node.cjs'],
    why:
      "cbor-x's recursive `encode` closure holds an arrow function (the skipFunction option's filter) that " +
      'captures its `value` parameter, so V8 keeps `value` in a context object allocated on every call ' +
      '(every value encoded) once `encode` has been re-optimized for more than one shape, as it is in a ' +
      'running gateway: 6.2 KB of garbage per 125-register Modbus record against 0.6 KB. Moved into a ' +
      'function of its own; the bytes encoded are the same.',
    find: 'value = Object.fromEntries([...Object.keys(value).filter(x => typeof value[x] !== "function").map(x => [x, value[x]])]);',
    replace: 'value = edgewiseWithoutFunctions(value); // edgewise: scripts/patch-dependencies.mjs',
    append:
      '\n// edgewise: scripts/patch-dependencies.mjs (no closure over `encode`\'s `value`)\n' +
      'function edgewiseWithoutFunctions(value) {\n' +
      '\treturn Object.fromEntries([...Object.keys(value).filter(x => typeof value[x] !== "function").map(x => [x, value[x]])]);\n' +
      '}\n',
  },
];

const root = process.cwd();
const check = process.argv.includes('--check');
let failed = false;
for (const fix of FIXES) {
  const dir = join(root, 'node_modules', fix.pkg);
  let version;
  try {
    version = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')).version;
  } catch {
    continue; // not installed here (an install without it): nothing to fix
  }
  for (const file of fix.files) {
    const path = join(dir, file);
    const text = readFileSync(path, 'utf8');
    if (text.includes(fix.replace)) continue;
    if (check) {
      console.error(`patch-dependencies: ${fix.pkg} ${version} ${file} is not patched (run node scripts/patch-dependencies.mjs)`);
      failed = true;
      continue;
    }
    if (version !== fix.version || text.split(fix.find).length !== 2) {
      console.error(
        `patch-dependencies: ${fix.pkg} is ${version}, its ${file} does not hold the text this fix replaces exactly once (made for ${fix.version}).\n` +
          `  The fix: ${fix.why}\n  Check whether ${version} still needs it, then update or drop it in scripts/patch-dependencies.mjs.`,
      );
      failed = true;
      continue;
    }
    writeFileSync(path, text.replace(fix.find, fix.replace) + fix.append);
    console.log(`patch-dependencies: ${fix.pkg} ${version} ${file} patched`);
  }
}
process.exit(failed ? 1 : 0);
