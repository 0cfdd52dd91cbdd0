/** Shared bits of the benchmarks: progress on stderr, the median, and the one-line JSON result. */
export function progress(message: string): void {
  process.stderr.write(`${message}\n`);
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

export interface BenchResult {
  readonly bench: string;
  readonly value: number;
  readonly baseline: number;
  readonly ratio: number;
  readonly unit: string;
}

/** Prints the result as the last line of stdout: one JSON object. */
export function finish(bench: string, value: number, baseline: number, unit: string, extra: Readonly<Record<string, number | string>> = {}): BenchResult {
  const round = (x: number): number => (Math.abs(x) >= 1000 ? Math.round(x) : Math.round(x * 10) / 10);
  const result = { bench, value: round(value), baseline: round(baseline), ratio: Math.round((value / baseline) * 1000) / 1000, unit, ...extra };
  printResult(result);
  return result;
}

/** Prints a result whose keys an issue names (rather than value, baseline and ratio) as the last line of stdout: one JSON object, keys in the given order. */
export function printResult(result: Readonly<Record<string, number | string>>): void {
  process.stdout.write(`${JSON.stringify(result)}\n`);
}
