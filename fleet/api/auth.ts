import type { FastifyInstance } from 'fastify';
import { ApiProblem } from './problem.js';
import type { Operator, TokenStore } from './tokens.js';

/** Who may call a route: anyone, any live token, or a read-write token. */
export type Access = 'public' | 'read' | 'write';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Default: `read` for GET and HEAD, `write` for the rest. */
    access?: Access;
  }
  interface FastifyRequest {
    /** The token's owner on routes that need one; null on public routes. */
    operator: Operator | null;
  }
}

const BEARER = /^Bearer +(\S+) *$/i;

/**
 * Bearer-token access control. Each route's access level decides both what the request
 * needs and what the OpenAPI document says (`security`), so the two cannot disagree.
 * Checked in `onRequest`, before a body is read: a stranger's large body is never parsed.
 */
export function accessControl(app: FastifyInstance, tokens: TokenStore): void {
  app.decorateRequest('operator', null);

  app.addHook('onRoute', (route) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    const access: Access = route.config?.access ?? (methods.every((m) => m === 'GET' || m === 'HEAD') ? 'read' : 'write');
    route.config = { ...route.config, access };
    const needs = access === 'public' ? 'No token needed.' : `Needs a ${access === 'write' ? 'read-write' : 'read-only or read-write'} operator token.`;
    const description = typeof route.schema?.description === 'string' ? `${route.schema.description} ${needs}` : needs;
    route.schema = { ...route.schema, description, security: access === 'public' ? [] : [{ bearerAuth: [] }] };
  });

  app.addHook('onRequest', async (request) => {
    const access = request.routeOptions.config.access;
    if (access === undefined || access === 'public') return;
    const header = request.headers.authorization;
    if (header === undefined) throw new ApiProblem(401, 'E_UNAUTHORIZED', 'send an operator token as "Authorization: Bearer ewt_..."; on the fleet host, edgewise fleet token create makes one (or POST /v1/tokens with a read-write token)');
    const token = BEARER.exec(header)?.[1];
    if (token === undefined) throw new ApiProblem(401, 'E_UNAUTHORIZED', 'the Authorization header must be "Bearer <token>"');
    const operator = await tokens.verify(token);
    if (operator === undefined) throw new ApiProblem(401, 'E_UNAUTHORIZED', 'the bearer token is not a live operator token (unknown, revoked or mistyped); ask for a new one');
    if (access === 'write' && operator.role !== 'read-write') {
      throw new ApiProblem(403, 'E_FORBIDDEN', `token ${JSON.stringify(operator.name)} is read-only; ${request.method} ${request.routeOptions.url ?? ''} needs a read-write token`);
    }
    request.operator = operator;
  });
}
