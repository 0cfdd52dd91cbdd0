import { readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

/**
 * Runs the longest test files first, so that no long file starts late and finishes alone
 * while the other worker idles (the TUF conformance suite alone takes 5 to 9 minutes).
 *
 * Vitest orders by the durations of the last run on this machine (its cache under
 * node_modules/.vite); a fresh clone, as in CI, has none, and vitest then runs the largest
 * files first: the conformance file is 125 lines and started near the end. Here a file's
 * duration is the cached one when there is one, else the one in file-durations.json (seconds,
 * from a full run in CI), else UNKNOWN_S. Files that failed last time still run first, as in
 * vitest's own order.
 *
 * To refresh file-durations.json after a full `npm test`: `node test/vitest/durations.mjs`.
 */
const KNOWN: Readonly<Record<string, number>> = JSON.parse(readFileSync(join(import.meta.dirname, 'file-durations.json'), 'utf8')) as Record<string, number>;
/** A new file: placed among the middling ones, neither first nor last. */
const UNKNOWN_S = 20;

export class LongestFirstSequencer extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const root = this.ctx.config.root;
    const facts = new Map(
      files.map((f) => {
        const file = relative(root, f.moduleId);
        const cached = this.ctx.cache.getFileTestResults(`${f.project.name}:${file}`);
        const seconds = cached !== undefined && cached.duration > 0 ? cached.duration / 1000 : (KNOWN[file] ?? UNKNOWN_S);
        return [f, { failed: cached?.failed === true, seconds, file }] as const;
      }),
    );
    return [...files].sort((a, b) => {
      const x = facts.get(a)!;
      const y = facts.get(b)!;
      if (x.failed !== y.failed) return x.failed ? -1 : 1;
      return y.seconds - x.seconds || (x.file < y.file ? -1 : x.file > y.file ? 1 : 0);
    });
  }
}
