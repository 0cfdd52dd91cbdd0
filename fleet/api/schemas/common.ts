type JsonSchemaType = 'string' | 'number' | 'integer' | 'boolean' | 'null' | 'array' | 'object';
import { GATEWAY_ID_PATTERN } from '../../protocol/index.js';

/**
 * `type: [t, 'null']`. A mutable tuple on purpose: tjs's `Infer` reads `type` lists only as
 * `JsonSchemaType[]`, and the readonly tuple `as const` makes would silently infer `unknown`
 * for the whole object around it (test/fleet/api/types.test.ts holds the inferred types).
 */
export function orNull<T extends JsonSchemaType>(type: T): [T, 'null'] {
  return [type, 'null'];
}

export const gatewayIdSchema = {
  type: 'string',
  pattern: GATEWAY_ID_PATTERN,
  description: 'a gateway id: 1-64 letters, digits, ".", "_" or "-", starting with a letter or digit',
} as const;

export const modelNameSchema = {
  type: 'string',
  pattern: '^[a-z0-9][a-z0-9._-]{0,63}$',
  description: 'a model name: 1-64 lower-case letters, digits, ".", "_" or "-"',
} as const;

export const DEFAULT_PAGE_LIMIT = 100;
export const limitSchema = { type: 'integer', minimum: 1, maximum: 1000, description: 'an integer 1-1000: items per page (default 100)' } as const;

/** Milliseconds since 1970 (UTC). */
export const msSchema = { type: 'integer', minimum: 0, maximum: 8_640_000_000_000_000, description: 'milliseconds since 1970-01-01 UTC' } as const;

/** For routes without query parameters: any given is refused, as unknown fields are everywhere. */
export const noQuerySchema = { type: 'object', properties: {}, additionalProperties: false } as const;

/** For actions without parameters: no body, or `{}`; anything else is refused. */
export const emptyBodySchema = {
  type: orNull('object'),
  properties: {},
  additionalProperties: false,
  description: 'no body, or an empty JSON object',
} as const;

export const nextCursorSchema = { type: orNull('string'), description: 'pass as the cursor parameter to get the next page; null on the last page' } as const;
