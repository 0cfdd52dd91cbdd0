// Writes test/vitest/file-durations.json (seconds per test file, longest first) from vitest's
// cache of the last run in this checkout (node_modules/.vite/vitest/*/results.json). Run it
// after a full `npm test` on the CI machine class; the sequencer reads the file.
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const root = join(import.meta.dirname, '../..');
const cacheDir = join(root, 'node_modules/.vite/vitest');
const runs = readdirSync(cacheDir).map((d) => join(cacheDir, d, 'results.json'));
if (runs.length !== 1) throw new Error(`expected one vitest results cache under ${cacheDir}, found ${runs.length}`);
const { results } = JSON.parse(readFileSync(runs[0], 'utf8'));
const rows = results.map(([key, r]) => [key.replace(/^[^:]*:/, ''), Math.round(r.duration / 100) / 10]).sort((a, b) => b[1] - a[1]);
const text = `{\n${rows.map(([f, s]) => `  ${JSON.stringify(f)}: ${s}`).join(',\n')}\n}\n`;
writeFileSync(join(import.meta.dirname, 'file-durations.json'), text);
console.log(`${rows.length} files, ${Math.round(rows.reduce((t, [, s]) => t + s, 0))} s in all`);
