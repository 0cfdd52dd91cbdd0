import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

/** The text scripts/patch-dependencies.mjs leaves in each file it fixes. */
export const FIX_MARKER = 'edgewise: scripts/patch-dependencies.mjs';

export interface MissingFix {
  readonly pkg: string;
  readonly file: string;
  readonly cost: string;
}

const CHECKS = [
  {
    pkg: 'cbor-x',
    files: ['encode.js', 'dist/node.cjs'],
    cost: 'cbor-x allocates a context object for every value it encodes (about 10x the garbage a record): more CPU for every record stored or sent',
  },
];

/** The directory of the installed package `pkg`, found from its entry file; undefined if not installed. */
function packageDir(pkg: string, from: string): string | undefined {
  let dir: string;
  try {
    dir = dirname(createRequire(from).resolve(pkg));
  } catch {
    return undefined;
  }
  for (let i = 0; i < 5; i += 1) {
    try {
      if ((JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: unknown }).name === pkg) return dir;
    } catch {
      // no package.json here: go up
    }
    dir = dirname(dir);
  }
  return undefined;
}

/**
 * The fixes scripts/patch-dependencies.mjs applies at `npm ci` that this install lacks (an
 * install with --ignore-scripts skips them). Nothing breaks without them, it only costs CPU, so
 * the gateway says so at start rather than running slower in silence. `from`: where packages
 * are resolved from (tests pass a directory of their own).
 */
export function missingDependencyFixes(from: string = import.meta.url): MissingFix[] {
  const missing: MissingFix[] = [];
  for (const c of CHECKS) {
    const dir = packageDir(c.pkg, from);
    if (dir === undefined) continue;
    for (const file of c.files) {
      const path = join(dir, file);
      if (existsSync(path) && !readFileSync(path, 'utf8').includes(FIX_MARKER)) missing.push({ pkg: c.pkg, file, cost: c.cost });
    }
  }
  return missing;
}
