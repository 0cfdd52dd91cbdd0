/**
 * What is wrong with a dataset, said so that a person can fix it in one pass: each problem
 * names the file (and the line, for text files) and what was wrong there. Readers collect
 * problems as they go and throw one DatasetError at the end with up to MAX_PROBLEMS of them
 * (a user with a typo in every label file wants the first screenful, not 4,000 lines).
 */

/** One thing wrong, where: a file, and a 1-based line when the file is text. */
export interface DatasetProblem {
  readonly file: string;
  readonly line?: number;
  readonly message: string;
}

/** Something odd that does not stop the reading (a label file without its image). */
export interface DatasetWarning {
  readonly file: string;
  readonly message: string;
}

export type OnDatasetWarning = (warning: DatasetWarning) => void;

/** A bad dataset (`code` is stable; `edgewise model ...` exits 2 on it). */
export class DatasetError extends Error {
  override readonly name = 'DatasetError';
  readonly code = 'E_DATASET';

  /** `more`: problems found past those listed. */
  constructor(
    readonly problems: readonly DatasetProblem[],
    readonly more = 0,
  ) {
    super(describeProblems(problems, more));
  }

  /** One problem: the common case of a reader that stops at once (an image that does not decode). */
  static at(file: string, message: string, line?: number): DatasetError {
    return new DatasetError([line === undefined ? { file, message } : { file, line, message }]);
  }
}

export function formatProblem(p: DatasetProblem): string {
  return `${p.file}${p.line === undefined ? '' : `:${p.line}`}: ${p.message}`;
}

function describeProblems(problems: readonly DatasetProblem[], more: number): string {
  const first = problems[0];
  if (first === undefined) return 'bad dataset';
  if (problems.length === 1 && more === 0) return formatProblem(first);
  const total = problems.length + more;
  const lines = problems.map((p) => `  ${formatProblem(p)}`);
  if (more > 0) lines.push(`  ... and ${more} more`);
  return `the dataset has ${total} problems:\n${lines.join('\n')}`;
}

/** Enough to fix a batch at once; past this a reader only counts. */
export const MAX_PROBLEMS = 20;

/** The problems a reader has found so far, bounded: the first MAX_PROBLEMS kept, the rest counted. */
export class ProblemList {
  private readonly kept: DatasetProblem[] = [];
  private extra = 0;

  add(file: string, message: string, line?: number): void {
    if (this.kept.length >= MAX_PROBLEMS) {
      this.extra += 1;
      return;
    }
    this.kept.push(line === undefined ? { file, message } : { file, line, message });
  }

  /** Takes over another error's problems (a DatasetError from a nested reader). */
  addError(err: DatasetError): void {
    for (const p of err.problems) this.add(p.file, p.message, p.line);
    this.extra += err.more;
  }

  get count(): number {
    return this.kept.length + this.extra;
  }

  /** True once the list is full: a reader may stop looking (it has a screenful to show). */
  get full(): boolean {
    return this.kept.length >= MAX_PROBLEMS;
  }

  throwIfAny(): void {
    if (this.count > 0) throw new DatasetError([...this.kept], this.extra);
  }
}
