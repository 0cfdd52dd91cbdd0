import { dirname, isAbsolute, resolve } from 'node:path';
import { parse, YAMLParseError } from 'yaml';
import type { ProblemList } from './dataset-error.js';

/**
 * The Ultralytics dataset file (data.yaml):
 *   path: .                # the dataset's root; relative to this file's folder (default: that folder)
 *   train: images/train    # a folder of images, a .txt list of image paths, or a YAML list of either
 *   val: images/val        #   (relative to `path`); both default to images/train and images/val
 *   names: [scratch, dent] # or {0: scratch, 1: dent}; `nc`, when given, must match
 * Other keys (test, download, ...) are ignored.
 */
export interface DataYaml {
  readonly file: string;
  readonly root: string;
  readonly classNames: readonly string[];
  /** Absolute paths of folders or .txt lists; undefined when the key is absent. */
  readonly train: readonly string[] | undefined;
  readonly val: readonly string[] | undefined;
}

/** The parsed file, or undefined when it is too broken to go on (the problems say why). */
export function parseDataYaml(text: string, file: string, problems: ProblemList): DataYaml | undefined {
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (err) {
    if (err instanceof YAMLParseError) problems.add(file, `not valid YAML: ${err.message.split('\n')[0] ?? ''}`, err.linePos?.[0].line);
    else problems.add(file, `not valid YAML: ${(err as Error).message}`);
    return undefined;
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) {
    problems.add(file, 'expected a mapping with `names` (and `train`, `val`, `path`)');
    return undefined;
  }
  const d = doc as Record<string, unknown>;
  const lineOf = (key: string): number | undefined => {
    const at = new RegExp(`^${key}\\s*:`, 'm').exec(text);
    return at === null ? undefined : text.slice(0, at.index).split('\n').length;
  };
  const classNames = namesOf(d.names, file, lineOf('names'), problems);
  if (classNames !== undefined && d.nc !== undefined && d.nc !== classNames.length) {
    problems.add(file, `nc is ${JSON.stringify(d.nc)} but names lists ${classNames.length} classes`, lineOf('nc'));
  }
  let root = dirname(file);
  if (d.path !== undefined && d.path !== null) {
    if (typeof d.path !== 'string') problems.add(file, `path: expected a folder, got ${JSON.stringify(d.path)}`, lineOf('path'));
    else root = isAbsolute(d.path) ? d.path : resolve(dirname(file), d.path);
  }
  const split = (key: 'train' | 'val'): string[] | undefined => {
    const v = d[key];
    if (v === undefined || v === null) return undefined;
    const list = Array.isArray(v) ? v : [v];
    if (list.length === 0 || list.some((e) => typeof e !== 'string' || e === '')) {
      problems.add(file, `${key}: expected a folder or .txt list of images (or a list of them), got ${JSON.stringify(v)}`, lineOf(key));
      return [];
    }
    return (list as string[]).map((e) => (isAbsolute(e) ? e : resolve(root, e)));
  };
  const train = split('train');
  const val = split('val');
  if (classNames === undefined) return undefined;
  return { file, root, classNames, train, val };
}

function namesOf(names: unknown, file: string, line: number | undefined, problems: ProblemList): string[] | undefined {
  if (names === undefined || names === null) {
    problems.add(file, 'no `names`: list the class names, as `names: [scratch, dent]` or `names: {0: scratch, 1: dent}`', line);
    return undefined;
  }
  let list: unknown[];
  if (Array.isArray(names)) list = names;
  else if (typeof names === 'object') {
    const entries = Object.entries(names as Record<string, unknown>);
    const ids = entries.map(([k]) => Number(k));
    const n = entries.length;
    if (!ids.every((id) => Number.isInteger(id) && id >= 0 && id < n) || new Set(ids).size !== n) {
      problems.add(file, `names: the class ids must be 0..${n - 1}, each once; got ${entries.map(([k]) => k).join(', ')}`, line);
      return undefined;
    }
    list = new Array<unknown>(n);
    for (const [k, v] of entries) list[Number(k)] = v;
  } else {
    problems.add(file, `names: expected a list or a map of ids to names, got ${JSON.stringify(names)}`, line);
    return undefined;
  }
  if (list.length === 0) {
    problems.add(file, 'names is empty: a detector needs at least one class', line);
    return undefined;
  }
  // YAML reads `names: [1, 2]` or `{0: yes}` as numbers and booleans; a class called 2 is still a name.
  const out = list.map((v) => (typeof v === 'string' ? v.trim() : typeof v === 'number' || typeof v === 'boolean' ? String(v) : ''));
  const blank = out.findIndex((v) => v === '');
  if (blank >= 0) {
    problems.add(file, `names: class ${blank} has no name`, line);
    return undefined;
  }
  const dup = out.find((v, i) => out.indexOf(v) !== i);
  if (dup !== undefined) {
    problems.add(file, `names: "${dup}" is there twice (events could not tell the classes apart)`, line);
    return undefined;
  }
  return out;
}
