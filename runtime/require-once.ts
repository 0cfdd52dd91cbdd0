import { createRequire } from 'node:module';

/**
 * Requires a CommonJS package for one use: it is dropped from Node's module cache at once,
 * so that when the caller lets go of what it got, V8 collects the package's code and source
 * text. For what a long-running gateway needs only while it starts: the command line
 * (commander) and the config file (yaml), about 1.5 MB of its heap otherwise (README,
 * Benchmarks). An ES module import would keep them for the life of the process.
 *
 * A package that something else had loaded already is returned as it is and stays cached; a
 * later require or import of one that was dropped loads a fresh copy.
 */
export function requireOnce<T extends object>(id: string): T {
  // Until V8 has collected it, the same copy serves again (a test suite parses many configs).
  const recent = alive.get(id)?.deref();
  if (recent !== undefined) return recent as T;
  // A fresh require function each time: the module it is made for lists what it loaded.
  const require = createRequire(import.meta.url);
  const before = new Set(Object.keys(require.cache));
  const loaded = require(id) as T;
  for (const key of Object.keys(require.cache)) if (!before.has(key)) delete require.cache[key];
  alive.set(id, new WeakRef(loaded));
  return loaded;
}

const alive = new Map<string, WeakRef<object>>();
