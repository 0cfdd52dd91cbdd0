import type { Document, LineCounter } from 'yaml';
import { requireOnce } from '../require-once.js';
import { controlCharacterProblems, printable } from './text-check.js';

/**
 * A YAML file a person wrote, read so that every problem can be reported at its line: the
 * text's control characters, YAML syntax errors, and, once it parses, the line of any path in
 * it. Shared by the gateway config's loader and by other YAML files edgewise reads (the
 * simulator's scenarios), so they all report problems the same way.
 */

export type Path = readonly (string | number)[];

/** A problem with the line it is reported at, if known. */
export interface Located {
  readonly text: string;
  readonly line: number | undefined;
}

export interface YamlSource {
  /** Problems of the text itself (control characters, syntax): when any is a syntax error, `root` is absent. */
  readonly problems: Located[];
  /** The document as plain values, when it parsed. */
  readonly root?: unknown;
  /** The line of a path (of its deepest node that exists: a missing key points at its parent). */
  readonly lineOf: (path: Path) => number | undefined;
}

/** The YAML library: required for each file, not imported (see require-once.ts). */
type Yaml = typeof import('yaml');

export function readYamlSource(text: string): YamlSource {
  const noLines = (): undefined => undefined;
  const { problems: controls, binary } = controlCharacterProblems(text);
  const textProblems: Located[] = controls.map((p) => ({ text: p, line: Number(/^line (\d+)/.exec(p)?.[1]) || undefined }));
  if (binary) return { problems: textProblems, lineOf: noLines };
  const { LineCounter, parseDocument, isNode } = requireOnce<Yaml>('yaml');
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, uniqueKeys: true, prettyErrors: false });
  if (doc.errors.length > 0) {
    const yamlProblems = doc.errors.map((e) => {
      const pos = lineCounter.linePos(e.pos[0]);
      return { text: `line ${pos.line}, column ${pos.col}: not valid YAML: ${e.message.split('\n')[0] ?? e.code}`, line: pos.line };
    });
    return { problems: [...textProblems, ...yamlProblems], lineOf: noLines };
  }
  let root: unknown;
  try {
    root = doc.toJS({ maxAliasCount: 100 });
  } catch (err) {
    return { problems: [...textProblems, { text: `not usable YAML: ${(err as Error).message}`, line: undefined }], lineOf: noLines };
  }
  return { problems: textProblems, root, lineOf: (path) => locate(path, doc, lineCounter, isNode) };
}

function locate(path: Path, doc: Document, lines: LineCounter, isNode: Yaml['isNode']): number | undefined {
  for (let n = path.length; n >= 0; n -= 1) {
    const node = n === 0 ? doc.contents : doc.getIn(path.slice(0, n), true);
    if (isNode(node) && node.range !== undefined && node.range !== null) return lines.linePos(node.range[0]).line;
  }
  return undefined;
}

/** Problems as the lines of an error message: in line order, each with its line, escaped (no raw control bytes reach a terminal). */
export function problemLines(problems: readonly Located[]): string[] {
  const sorted = [...problems].sort((a, b) => (a.line ?? Number.MAX_SAFE_INTEGER) - (b.line ?? Number.MAX_SAFE_INTEGER));
  return sorted.map((p) => printable(p.line === undefined || p.text.startsWith('line ') ? p.text : `${p.text} (line ${p.line})`));
}
