import { problemResponses } from '../problem.js';
import { noQuerySchema } from './common.js';

export const mosquittoCredentialsSchema = {
  tags: ['gateways'],
  summary: "Credentials for an external Mosquitto's password file",
  description: "Every gateway's Mosquitto password hash ($7$, PBKDF2-SHA512) and whether it is revoked, plus the fleet's own: what `edgewise fleet acl --format mosquitto` writes. Hashes, never passwords; read-write tokens only.",
  querystring: noQuerySchema,
  response: {
    200: {
      type: 'object',
      properties: {
        gateways: {
          type: 'array',
          items: { type: 'object', properties: { id: { type: 'string' }, hash: { type: 'string' }, revoked: { type: 'boolean' } }, required: ['id', 'hash', 'revoked'], additionalProperties: false },
        },
        fleetPasswordMosquitto: { type: 'string' },
      },
      required: ['gateways', 'fleetPasswordMosquitto'],
      additionalProperties: false,
    },
    ...problemResponses,
  },
} as const;
