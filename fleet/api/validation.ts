import type { FastifySchemaCompiler } from 'fastify';
import { schema as compile, type JsonSchema, type ValidationError } from 'tjs';
import { formatPath, formatProblem, schemaAt, toSchemaProblem } from '../protocol/schema-problems.js';
import { ApiProblem } from './problem.js';

/** How the parts of a request are named in problem details: `body.labels.line`, `query.limit`. */
const PART_NAMES: Readonly<Record<string, string>> = { body: 'body', querystring: 'query', params: 'params', headers: 'headers' };

/** One line saying which field is wrong and what it should be, in the project's usual words. */
export function validationDetail(part: string, schema: unknown, data: unknown, errors: readonly ValidationError[]): string {
  const first = errors[0];
  if (first === undefined) return `${part}: does not match the schema`;
  const root = schema as Record<string, unknown>;
  const key = badKey(first, root);
  if (key !== undefined) return `${formatPath([part, ...key.parent])}: expected keys that are ${key.expected}, got key ${JSON.stringify(key.key.length > 40 ? `${key.key.slice(0, 37)}...` : key.key)}`;
  return formatProblem(toSchemaProblem(first, root, data, [part]));
}

/**
 * tjs reports a key that fails `propertyNames` at the key's own path, like a bad value
 * there; it was the key when the parent's `propertyNames` has the failing pattern.
 */
function badKey(error: ValidationError, root: Record<string, unknown>): { parent: (string | number)[]; key: string; expected: string } | undefined {
  if (error.keyword !== 'pattern' || error.instancePath === '') return undefined;
  const path = error.instancePath
    .split('/')
    .slice(1)
    .map((seg) => seg.replace(/~1/g, '/').replace(/~0/g, '~'));
  const parent = path.slice(0, -1);
  const names = schemaAt(root, parent)?.['propertyNames'] as Record<string, unknown> | undefined;
  if (names === undefined || names['pattern'] !== (error.params as { pattern?: unknown }).pattern) return undefined;
  return { parent, key: path[path.length - 1] as string, expected: typeof names['description'] === 'string' ? names['description'] : `matching ${String(names['pattern'])}` };
}

/**
 * Fastify's validator compiler, replaced by tjs (the handler types come from tjs's `Infer`,
 * so the same engine decides what is valid). Query strings and path parameters arrive as
 * text and are coerced to the schema's types (`limit=10` -> 10); JSON bodies are not coerced:
 * `"replace": "true"` is refused, not read as true. Nothing is stripped or defaulted: a field
 * the schema does not know (`additionalProperties: false`) is a 400 naming it.
 */
export const tjsValidatorCompiler: FastifySchemaCompiler<unknown> = ({ schema, httpPart }) => {
  const part = PART_NAMES[httpPart ?? 'body'] ?? String(httpPart);
  const validator = compile(schema as JsonSchema, httpPart === 'body' ? {} : { coerce: true });
  return (data: unknown) => {
    const r = validator.validate(data);
    if (r.valid) return { value: r.value };
    return { error: new ApiProblem(400, 'E_VALIDATION', validationDetail(part, schema, data, r.error)) };
  };
};

/**
 * The JSON body parser (the only body parser: other content types are 415): the message of a syntax error goes into the problem (where the text
 * went wrong), and `__proto__` keys are refused, as fastify's own parser does, so a body can
 * never reach an object's prototype through a later merge.
 */
export function parseJsonBody(text: string | Buffer): unknown {
  const body = typeof text === 'string' ? text : text.toString('utf8');
  if (body.length === 0) throw new ApiProblem(400, 'E_BAD_JSON', 'the body is empty but content-type says application/json; send a JSON object, or drop the content-type header when there is no body');
  try {
    return JSON.parse(body, (key, value: unknown) => {
      if (key === '__proto__') throw new ApiProblem(400, 'E_BAD_JSON', 'the body has a "__proto__" key, which is never accepted');
      return value;
    });
  } catch (err) {
    if (err instanceof ApiProblem) throw err;
    throw new ApiProblem(400, 'E_BAD_JSON', `the body is not valid JSON (${(err as Error).message.slice(0, 200)}); send one JSON object`);
  }
}
