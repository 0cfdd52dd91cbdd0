import { problemResponses } from '../problem.js';
import { TOKEN_ROLES } from '../tokens.js';
import { emptyBodySchema, noQuerySchema, orNull } from './common.js';

const TAGS = ['tokens'];

const tokenProperties = {
  id: { type: 'string' },
  role: { type: 'string', enum: TOKEN_ROLES },
  name: { type: 'string' },
  createdMs: { type: 'number' },
  revokedMs: { type: orNull('number') },
} as const;
const tokenRequired = ['id', 'role', 'name', 'createdMs', 'revokedMs'] as const;

export const tokenSchema = { type: 'object', properties: tokenProperties, required: tokenRequired, additionalProperties: false } as const;

export const listTokensSchema = {
  tags: TAGS,
  summary: 'List operator tokens',
  description: 'Names and roles, never the secrets.',
  querystring: noQuerySchema,
  response: { 200: { type: 'object', properties: { items: { type: 'array', items: tokenSchema } }, required: ['items'], additionalProperties: false }, ...problemResponses },
} as const;

export const createTokenSchema = {
  tags: TAGS,
  summary: 'Create an operator token',
  description: 'The token is in this reply only; the fleet keeps its SHA-256.',
  querystring: noQuerySchema,
  body: {
    type: 'object',
    description: 'a JSON object with role and name',
    properties: {
      role: { type: 'string', enum: TOKEN_ROLES },
      name: { type: 'string', minLength: 1, maxLength: 64, pattern: '^[^\\u0000-\\u001f\\u007f]+$', description: '1-64 characters without control characters, naming who holds the token' },
    },
    required: ['role', 'name'],
    additionalProperties: false,
  },
  response: {
    201: {
      type: 'object',
      properties: { ...tokenProperties, token: { type: 'string', description: 'ewt_...: send as "Authorization: Bearer <token>"; shown once' } },
      required: [...tokenRequired, 'token'],
      additionalProperties: false,
    },
    ...problemResponses,
  },
} as const;

export const revokeTokenSchema = {
  tags: TAGS,
  summary: 'Revoke an operator token',
  querystring: noQuerySchema,
  params: { type: 'object', properties: { id: { type: 'string', pattern: '^[A-Za-z0-9_-]{1,64}$', description: 'a token id' } }, required: ['id'], additionalProperties: false },
  body: emptyBodySchema,
  response: { 200: tokenSchema, ...problemResponses },
} as const;

export const meSchema = {
  tags: TAGS,
  summary: 'The calling token: its id, name and role',
  description: 'What the console shows as who is signed in, and which buttons it offers (read-only tokens get none that change the fleet).',
  querystring: noQuerySchema,
  response: {
    200: { type: 'object', properties: { id: tokenProperties.id, name: tokenProperties.name, role: tokenProperties.role }, required: ['id', 'name', 'role'], additionalProperties: false },
    ...problemResponses,
  },
} as const;
