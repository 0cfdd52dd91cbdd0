import { readFile, readdir, stat } from 'node:fs/promises';
import { join, relative } from 'node:path';

/** One NAB data file: `timestamp,value` rows and its labelled anomaly windows. */
export interface NabFile {
  /** Relative path like `realKnownCause/nyc_taxi.csv`, as keyed in the labels file. */
  readonly name: string;
  readonly timestamps: Float64Array;
  readonly values: Float64Array;
  /** Windows as [firstRow, lastRow], in order. */
  readonly windows: readonly (readonly [number, number])[];
}

/** NAB timestamps ("2014-07-01 00:00:00" or with ".000000") as ms since the epoch, UTC. */
export function parseNabTime(text: string): number {
  const m = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?/.exec(text.trim());
  if (m === null) return Number.NaN;
  const [, y, mo, d, h, mi, s, frac] = m;
  return Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s), frac === undefined ? 0 : Math.floor(Number(`0.${frac}`) * 1000));
}

async function* csvFiles(dir: string): AsyncGenerator<string> {
  for (const entry of (await readdir(dir)).sort()) {
    const path = join(dir, entry);
    if ((await stat(path)).isDirectory()) yield* csvFiles(path);
    else if (entry.endsWith('.csv')) yield path;
  }
}

export class CorpusError extends Error {
  override readonly name = 'CorpusError';
}

/**
 * Loads every CSV under `dataDir` with its windows from `labelsFile`
 * (`combined_windows.json`: `{ "<category>/<file>.csv": [[start, end], ...] }`). A file
 * the labels do not know is refused: scoring it would silently count no windows.
 */
export async function loadCorpus(dataDir: string, labelsFile: string): Promise<NabFile[]> {
  let labels: Record<string, [string, string][]>;
  try {
    labels = JSON.parse(await readFile(labelsFile, 'utf8')) as Record<string, [string, string][]>;
  } catch (err) {
    throw new CorpusError(`labels ${labelsFile}: ${(err as Error).message}`);
  }
  const files: NabFile[] = [];
  for await (const path of csvFiles(dataDir)) {
    const name = relative(dataDir, path).split('\\').join('/');
    const windowsText = labels[name];
    if (windowsText === undefined) throw new CorpusError(`${name}: not in ${labelsFile}`);
    const lines = (await readFile(path, 'utf8')).split(/\r?\n/);
    const timestamps: number[] = [];
    const values: number[] = [];
    lines.forEach((line, i) => {
      if (i === 0 || line.trim() === '') return;
      const comma = line.indexOf(',');
      const ts = parseNabTime(line.slice(0, comma));
      const value = Number(line.slice(comma + 1));
      if (comma < 0 || !Number.isFinite(ts) || !Number.isFinite(value)) throw new CorpusError(`${name}:${i + 1}: expected "timestamp,value", got ${JSON.stringify(line.slice(0, 60))}`);
      timestamps.push(ts);
      values.push(value);
    });
    const windows = windowsText.map(([a, b]): [number, number] => {
      const start = parseNabTime(a);
      const end = parseNabTime(b);
      const first = timestamps.findIndex((t) => t >= start);
      let last = -1;
      for (let k = timestamps.length - 1; k >= 0; k -= 1) {
        if ((timestamps[k] as number) <= end) {
          last = k;
          break;
        }
      }
      if (first < 0 || last < first) throw new CorpusError(`${name}: window [${a}, ${b}] covers no rows`);
      return [first, last];
    });
    files.push({ name, timestamps: Float64Array.from(timestamps), values: Float64Array.from(values), windows });
  }
  if (files.length === 0) throw new CorpusError(`${dataDir}: no .csv files`);
  return files;
}
