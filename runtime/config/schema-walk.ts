import { schema, type JsonSchema } from 'tjs';
import { describeValue, toSchemaProblem, type SchemaErrorLike, type SchemaProblem } from '../../fleet/protocol/schema-problems.js';
import { closest } from './suggest.js';

/**
 * Every problem of a value against a JSON Schema, not only the first: tjs stops at the first
 * failure, so objects and lists are walked here (required keys, unknown keys, each property,
 * each item) and tjs judges the leaves. A schema node the walk does not understand (`oneOf`,
 * `$ref`, ...) is judged whole by tjs, except a choice between a short and a full form that
 * differ by JSON type (a polygon or `{ name, points }`): the value's type picks the one
 * branch it can match, and that branch is walked, so a bad key is named inside it
 * (`zones[1].name`), not as "no branch matched" at the choice. A misspelled key is named
 * with the known key it is closest to.
 */

type Node = Readonly<Record<string, unknown>>;
type Path = readonly (string | number)[];
interface Compiled {
  validate(v: unknown): { error?: readonly SchemaErrorLike[] };
}

/** Keywords that make a node a leaf for the walk (tjs judges it whole). */
const OPAQUE = ['anyOf', 'oneOf', 'allOf', 'not', 'if', '$ref', '$dynamicRef', 'patternProperties', 'dependentRequired', 'dependentSchemas', 'unevaluatedProperties', 'unevaluatedItems', 'propertyNames', 'minProperties', 'maxProperties', 'prefixItems', 'contains', 'const', 'enum'];

const compiled = new WeakMap<object, Compiled>();
/** An array node without its `items`, for the list-level keywords (minItems, uniqueItems...). */
const listOnly = new WeakMap<object, Node>();

function compile(node: Node): Compiled {
  let v = compiled.get(node);
  if (v === undefined) {
    v = schema(node as JsonSchema) as unknown as Compiled;
    compiled.set(node, v);
  }
  return v;
}

function isMapping(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function pointer(path: Path): string {
  return path.map((s) => `/${String(s).replace(/~/g, '~0').replace(/\//g, '~1')}`).join('');
}

function opaque(node: Node): boolean {
  return OPAQUE.some((k) => k in node);
}

/** Keywords that say something about a node without constraining its value. */
const ANNOTATIONS = new Set(['description', 'title', '$comment', 'default', 'examples']);

function jsonType(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  return typeof v === 'object' ? 'object' : typeof v;
}

/** Per choice node: its branches by JSON type, or null when it is not a choice the walk can split. */
const choices = new WeakMap<object, ReadonlyMap<string, Node> | null>();

/**
 * The branch of an `anyOf`/`oneOf` that the value's JSON type picks, when the node is only that
 * choice and its branches each have one `type`, no two alike (so at most one branch can match
 * any value, and the value is valid exactly when it is valid against that branch); undefined
 * otherwise (the node is judged whole).
 */
function branchByType(node: Node, v: unknown): Node | undefined {
  let byType = choices.get(node);
  if (byType === undefined) {
    byType = typedBranches(node);
    choices.set(node, byType);
  }
  return byType?.get(jsonType(v));
}

function typedBranches(node: Node): ReadonlyMap<string, Node> | null {
  const keys = Object.keys(node).filter((k) => !ANNOTATIONS.has(k));
  const key = keys[0];
  if (keys.length !== 1 || (key !== 'anyOf' && key !== 'oneOf')) return null;
  const branches = node[key];
  if (!Array.isArray(branches) || !branches.every((b) => isMapping(b) && typeof b['type'] === 'string')) return null;
  const byType = new Map((branches as Node[]).map((b) => [b['type'] === 'integer' ? 'number' : (b['type'] as string), b]));
  return byType.size === branches.length ? byType : null;
}

/** The problems of `value` against `root`; paths are prefixed with `base`. */
export function schemaProblems(root: JsonSchema, value: unknown, base: Path = []): SchemaProblem[] {
  const rootNode = root as Node;
  const problems: SchemaProblem[] = [];
  const fromError = (err: SchemaErrorLike, at: Path): void => {
    problems.push(toSchemaProblem({ ...err, instancePath: pointer(at) + err.instancePath }, rootNode, value, base));
  };
  const leaf = (node: Node, v: unknown, at: Path): void => {
    const first = compile(node).validate(v).error?.[0];
    if (first !== undefined) fromError(first, at);
  };
  const walk = (node: Node, v: unknown, at: Path): void => {
    const branch = typeof node === 'object' && node !== null ? branchByType(node, v) : undefined;
    if (branch !== undefined) {
      // Walked as a root of its own, so each problem's wording is looked up in the branch.
      problems.push(...schemaProblems(branch as JsonSchema, v, [...base, ...at]));
      return;
    }
    if (typeof node !== 'object' || node === null || opaque(node)) {
      if (typeof node === 'object' && node !== null) leaf(node, v, at);
      return;
    }
    const props = node['properties'];
    if (node['type'] === 'object' && isMapping(props) && isMapping(v)) {
      for (const key of (node['required'] as string[] | undefined) ?? []) {
        if (v[key] === undefined) fromError({ instancePath: '', keyword: 'required', params: { missingProperty: key } }, at);
      }
      const known = Object.keys(props);
      const extra = node['additionalProperties'];
      for (const [key, child] of Object.entries(v)) {
        if (key in props) walk(props[key] as Node, child, [...at, key]);
        else if (extra === false) problems.push(unknownKey([...base, ...at, key], key, known));
        else if (isMapping(extra)) walk(extra, child, [...at, key]);
      }
      return;
    }
    const items = node['items'];
    if (node['type'] === 'array' && isMapping(items) && Array.isArray(v)) {
      let whole = listOnly.get(node);
      if (whole === undefined) {
        const { items: _items, ...rest } = node;
        whole = rest;
        listOnly.set(node, whole);
      }
      leaf(whole, v, at);
      v.forEach((item, i) => walk(items, item, [...at, i]));
      return;
    }
    leaf(node, v, at);
  };
  walk(rootNode, value, []);
  if (problems.length === 0) {
    // Whatever the walk let through (a keyword it does not split), tjs still judges.
    const first = compile(rootNode).validate(value).error?.[0];
    if (first !== undefined) fromError(first, []);
  }
  return problems;
}

/** `expected one of the known keys (...), got unknown key "x"`, or a suggestion when one is close. */
export function unknownKey(path: Path, key: string, known: readonly string[]): SchemaProblem {
  const near = closest(key, known);
  if (near !== undefined) return { path, expected: `a known key`, got: `unknown key ${describeKey(key)}; did you mean ${JSON.stringify(near)}?` };
  return { path, expected: known.length > 0 ? `one of the known keys (${known.join(', ')})` : 'no keys here', got: `unknown key ${describeKey(key)}` };
}

function describeKey(key: string): string {
  const s = describeValue(key);
  return s.startsWith('string ') ? s.slice('string '.length) : s;
}
