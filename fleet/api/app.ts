import swagger from '@fastify/swagger';
import Fastify, { LogController, type FastifyInstance, type FastifyRequest } from 'fastify';
import { accessControl } from './auth.js';
import { API_DEFAULTS, type ApiDeps, type ApiOptions } from './deps.js';
import { ApiProblem, sendProblem, toProblem } from './problem.js';
import { brokerRoutes } from './routes/broker.js';
import { consoleRoutes, defaultConsoleDir } from './routes/console.js';
import { eventRoutes } from './routes/events.js';
import { gatewayRoutes } from './routes/gateways.js';
import { learningRoutes } from './routes/learning.js';
import { liveRoutes } from './routes/live.js';
import { releaseRoutes } from './routes/releases.js';
import { rolloutRoutes } from './routes/rollouts.js';
import { systemRoutes } from './routes/system.js';
import { tokenRoutes } from './routes/tokens.js';
import { parseJsonBody, tjsValidatorCompiler } from './validation.js';

/**
 * The fleet's HTTP API on fastify, ready but not listening (the caller calls `listen`, or
 * `inject` in tests). Every route validates its parameters, query and body against its JSON
 * schema (unknown fields refused) and serialises replies through its reply schemas; the
 * same schemas make the OpenAPI document at `/openapi.json`. Every error is an RFC 9457
 * problem (`application/problem+json`) with a stable `code`.
 */
export async function buildApi(deps: ApiDeps, options: ApiOptions = {}): Promise<FastifyInstance> {
  const bodyLimitBytes = options.bodyLimitBytes ?? API_DEFAULTS.bodyLimitBytes;
  const app: FastifyInstance = Fastify({
    bodyLimit: bodyLimitBytes,
    ...(options.logger === undefined ? { logger: false } : { loggerInstance: options.logger }),
    // Requests are counted in metrics.httpRequests; the log gets failures (5xx), not a line per poll.
    logController: new LogController({ disableRequestLogging: true }),
    // URL errors found while routing (a malformed %-escape) get the same problem shape.
    frameworkErrors: (err, request, reply) => {
      sendProblem(reply, toProblem(err, request, bodyLimitBytes));
    },
  });

  app.setValidatorCompiler(tjsValidatorCompiler);
  // JSON only: any other content type is a 415, not a string that fails validation later.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'string', bodyLimit: bodyLimitBytes }, async (_request: FastifyRequest, body: string) => parseJsonBody(body));

  app.setErrorHandler((err, request, reply) => {
    const problem = toProblem(err, request, bodyLimitBytes);
    if (problem.statusCode >= 500) request.log.error({ err }, 'request failed');
    return sendProblem(reply, problem);
  });
  app.setNotFoundHandler((request, reply) => {
    const url = request.url.length > 120 ? `${request.url.slice(0, 117)}...` : request.url;
    return sendProblem(reply, new ApiProblem(404, 'E_NOT_FOUND', `no route ${request.method} ${JSON.stringify(url)}; GET /openapi.json lists the routes`));
  });

  app.addHook('onResponse', async (request, reply) => {
    // The route template, never the raw URL: label values stay few.
    deps.metrics.httpRequests.inc({ route: request.is404 ? 'unmatched' : (request.routeOptions.url ?? 'unmatched'), status: String(reply.statusCode) });
  });

  // Before swagger and the routes: it sets each route's access level and its `security`.
  accessControl(app, deps.tokens);
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: { title: 'edgewise fleet API', version: '1', description: 'Gateways, events, model releases, rollouts, federated learning and operator tokens of an edgewise fleet.' },
      components: { securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer', description: 'an operator token (ewt_...)' } } },
      tags: [
        { name: 'gateways', description: 'the registry: provisioning, revocation, what gateways report' },
        { name: 'events', description: 'alerts, events and summaries sent by gateways' },
        { name: 'releases', description: 'model releases in the TUF repository' },
        { name: 'rollouts', description: 'signed releases going out in waves, with health gates' },
        { name: 'learning', description: 'federated learning tasks, their rounds and round records' },
        { name: 'tokens', description: 'operator tokens for this API' },
        { name: 'live', description: 'changes as they happen, as server-sent events' },
        { name: 'system', description: 'health, metrics and this document' },
      ],
    },
  });

  await app.register(systemRoutes(deps));
  await app.register(gatewayRoutes(deps));
  await app.register(eventRoutes(deps));
  await app.register(releaseRoutes(deps));
  await app.register(tokenRoutes(deps));
  await app.register(brokerRoutes(deps));
  await app.register(rolloutRoutes(deps));
  await app.register(learningRoutes(deps));
  await app.register(liveRoutes(deps, options.live));
  await app.register(consoleRoutes(options.consoleDir ?? defaultConsoleDir()));
  return app;
}
