import type { JsonSchema } from 'tjs';
import { describeValue, formatPath } from '../../fleet/protocol/schema-problems.js';
import { schemaProblems } from '../../runtime/config/schema-walk.js';
import type { Path } from '../../runtime/config/yaml-source.js';
import { UnitError } from './units.js';

/** One problem of a scenario: where (a path into the file) and the line a person reads. */
export interface Problem {
  readonly path: Path;
  readonly text: string;
}

/** Collects problems; each part's checks push into it. A problem two checks find (the root's schema and a part's) is kept once. */
export class Problems {
  readonly list: Problem[] = [];
  private readonly seen = new Set<string>();
  add(path: Path, expected: string, got: string): void {
    const text = `${formatPath(path)}: expected ${expected}, got ${got}`;
    if (this.seen.has(text)) return;
    this.seen.add(text);
    this.list.push({ path, text });
  }
  /** Validates `value` against a schema; true when it has no problems. */
  schema(jsonSchema: JsonSchema, value: unknown, base: Path): boolean {
    const found = schemaProblems(jsonSchema, value, base);
    for (const p of found) this.add(p.path, p.expected, p.got);
    return found.length === 0;
  }
  /** A time or a size read from text; undefined (and a problem) when it cannot be. */
  unit(parse: (text: string) => number, text: unknown, path: Path): number | undefined {
    if (typeof text !== 'string') return undefined;
    try {
      return parse(text);
    } catch (err) {
      if (!(err instanceof UnitError)) throw err;
      const [expected, ...why] = err.message.replace(/^expected /, '').split('; ');
      this.add(path, expected as string, `${describeValue(text)}${why.length > 0 ? ` (${why.join('; ')})` : ''}`);
      return undefined;
    }
  }
}

export function isMapping(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

