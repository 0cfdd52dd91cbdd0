/**
 * Turns a tjs/JSON-Schema validation error into one line a person can act on:
 * `path: expected X, got Y`. Shared by the gateway's config loader and by
 * receivers of wire messages, so every boundary reports problems the same way.
 */

/** The subset of a tjs error object that we read. */
export interface SchemaErrorLike {
  readonly instancePath: string;
  readonly keyword: string;
  readonly params?: object;
  readonly message?: string;
}

export interface SchemaProblem {
  /** Path segments from the validated root, e.g. ['devices', 0, 'rateHz']. */
  readonly path: readonly (string | number)[];
  readonly expected: string;
  readonly got: string;
}

type JsonSchemaNode = Readonly<Record<string, unknown>>;

/** `['devices', 0, 'rateHz']` -> `devices[0].rateHz`. */
export function formatPath(path: readonly (string | number)[]): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else out += out === '' ? seg : `.${seg}`;
  }
  return out === '' ? '(root)' : out;
}

export function formatProblem(problem: SchemaProblem): string {
  return `${formatPath(problem.path)}: expected ${problem.expected}, got ${problem.got}`;
}

/** Describes a value briefly for the "got" half of a problem. */
export function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return `a list of ${value.length}`;
  if (value instanceof Uint8Array) return `${value.byteLength} bytes`;
  switch (typeof value) {
    case 'string': {
      const shown = value.length > 40 ? `${value.slice(0, 37)}...` : value;
      return `string ${JSON.stringify(shown)}`;
    }
    case 'number':
      return Number.isInteger(value) || !Number.isFinite(value) ? String(value) : `${value}`;
    case 'boolean':
      return String(value);
    case 'object':
      return 'a mapping';
    default:
      return typeof value;
  }
}

function decodePointer(pointer: string): (string | number)[] {
  if (pointer === '') return [];
  return pointer
    .split('/')
    .slice(1)
    .map((raw) => {
      const seg = raw.replace(/~1/g, '/').replace(/~0/g, '~');
      return /^(0|[1-9]\d*)$/.test(seg) ? Number(seg) : seg;
    });
}

function valueAt(root: unknown, path: readonly (string | number)[]): unknown {
  let cur: unknown = root;
  for (const seg of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string | number, unknown>)[seg];
  }
  return cur;
}

/** Follows `properties` and `items` down the schema; undefined where the path leaves it. */
export function schemaAt(root: JsonSchemaNode, path: readonly (string | number)[]): JsonSchemaNode | undefined {
  let cur: JsonSchemaNode | undefined = root;
  for (const seg of path) {
    if (cur === undefined) return undefined;
    if (typeof seg === 'number') {
      cur = cur['items'] as JsonSchemaNode | undefined;
    } else {
      const props = cur['properties'] as Record<string, JsonSchemaNode> | undefined;
      const next: JsonSchemaNode | undefined = props?.[seg];
      cur = next ?? (typeof cur['additionalProperties'] === 'object' ? (cur['additionalProperties'] as JsonSchemaNode) : undefined);
    }
  }
  return cur;
}

function typeWords(type: unknown): string {
  const words: Record<string, string> = {
    integer: 'an integer',
    number: 'a number',
    string: 'a string',
    boolean: 'true or false',
    object: 'a mapping',
    array: 'a list',
    null: 'null',
  };
  const list = Array.isArray(type) ? type : [type];
  return list.map((t) => words[String(t)] ?? String(t)).join(' or ');
}

function listWords(values: readonly unknown[]): string {
  return values.map((v) => JSON.stringify(v)).join(', ');
}

/**
 * Converts one schema error into a problem. `root` is the schema that was validated and
 * `data` the value it was validated against; `base` is prefixed to the path (the config
 * section, say).
 */
export function toSchemaProblem(
  error: SchemaErrorLike,
  root: JsonSchemaNode,
  data: unknown,
  base: readonly (string | number)[] = [],
): SchemaProblem {
  const at = decodePointer(error.instancePath);
  const params = (error.params ?? {}) as Readonly<Record<string, unknown>>;
  const got = valueAt(data, at);
  const node = schemaAt(root, at);
  const described = typeof node?.['description'] === 'string' ? (node['description'] as string) : undefined;
  const path = [...base, ...at];

  switch (error.keyword) {
    case 'required': {
      // tjs reports the missing property's own path; older validators report the parent's.
      const missing = params['missingProperty'];
      const full = typeof missing === 'string' && at[at.length - 1] !== missing ? [...path, missing] : path;
      const missingNode = typeof missing === 'string' ? schemaAt(root, [...at.slice(0, at[at.length - 1] === missing ? -1 : undefined), missing]) : undefined;
      const what = typeof missingNode?.['description'] === 'string' ? (missingNode['description'] as string) : missingNode?.['type'] !== undefined ? typeWords(missingNode['type']) : 'a value';
      return { path: full, expected: `${what} (required)`, got: 'nothing' };
    }
    case 'additionalProperties': {
      const parent = schemaAt(root, at.slice(0, -1));
      const allowed = Object.keys((parent?.['properties'] as Record<string, unknown> | undefined) ?? {});
      return {
        path,
        expected: allowed.length > 0 ? `one of the known keys (${allowed.join(', ')})` : 'no keys here',
        got: `unknown key ${JSON.stringify(at[at.length - 1])}`,
      };
    }
    case 'type':
      return { path, expected: described ?? typeWords(params['type'] ?? node?.['type']), got: describeValue(got) };
    case 'enum':
      return { path, expected: `one of ${listWords((node?.['enum'] as unknown[] | undefined) ?? (params['allowedValues'] as unknown[] | undefined) ?? [])}`, got: describeValue(got) };
    case 'const':
      return { path, expected: JSON.stringify(node?.['const'] ?? params['allowedValue']), got: describeValue(got) };
    case 'minimum':
    case 'maximum':
    case 'exclusiveMinimum':
    case 'exclusiveMaximum': {
      const op = { minimum: '>=', maximum: '<=', exclusiveMinimum: '>', exclusiveMaximum: '<' }[error.keyword];
      const limit = params['limit'] ?? node?.[error.keyword];
      const kind = node?.['type'] === 'integer' ? 'an integer' : 'a number';
      return { path, expected: `${kind} ${op} ${String(limit)}`, got: describeValue(got) };
    }
    case 'minLength':
      return { path, expected: described ?? `a string of at least ${String(node?.['minLength'] ?? params['limit'])} characters`, got: describeValue(got) };
    case 'maxLength':
      return { path, expected: described ?? `a string of at most ${String(node?.['maxLength'] ?? params['limit'])} characters`, got: describeValue(got) };
    case 'minItems':
      return { path, expected: `a list of at least ${String(node?.['minItems'] ?? params['limit'])} entries`, got: describeValue(got) };
    case 'maxItems':
      return { path, expected: `a list of at most ${String(node?.['maxItems'] ?? params['limit'])} entries`, got: describeValue(got) };
    case 'pattern':
      return { path, expected: described ?? `a string matching ${String(node?.['pattern'] ?? params['pattern'])}`, got: describeValue(got) };
    default:
      return { path, expected: described ?? (error.message ?? error.keyword).replace(/^must /, ''), got: describeValue(got) };
  }
}
