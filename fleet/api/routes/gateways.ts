import type { FastifyPluginAsync } from 'fastify';
import { GatewayMetricsStore } from '../../registry/gateway-metrics.js';
import type { GatewayStatus } from '../../registry/gateway-store.js';
import { gatewayConfigSection } from '../../registry/gateway-config.js';
import { LabelError, parseSelector, type Selector } from '../../registry/labels.js';
import { RegistryError } from '../../registry/registry.js';
import type { ApiDeps } from '../deps.js';
import { ApiProblem } from '../problem.js';
import { DEFAULT_PAGE_LIMIT } from '../schemas/common.js';
import { METRICS_LIMIT_DEFAULT, gatewayCountsSchema, gatewayMetricsSchema, getGatewaySchema, listGatewaysSchema, provisionSchema, revokeGatewaySchema } from '../schemas/gateways.js';
import type { TjsTypeProvider } from '../type-provider.js';

function selector(text: string | undefined): Selector | undefined {
  if (text === undefined) return undefined;
  try {
    return parseSelector(text, 'query.selector');
  } catch (err) {
    if (err instanceof LabelError) throw new ApiProblem(400, 'E_VALIDATION', err.message);
    throw err;
  }
}

/** The registry's refusals as problems; its messages name the field. */
function registryProblem(err: unknown): unknown {
  if (!(err instanceof RegistryError)) return err;
  switch (err.code) {
    case 'E_GATEWAY_ID_INVALID':
      return new ApiProblem(400, 'E_VALIDATION', `body.id: ${err.message}`);
    case 'E_LABELS_INVALID':
      return new ApiProblem(400, 'E_VALIDATION', `body.${err.message}`);
    case 'E_GATEWAY_EXISTS':
      return new ApiProblem(409, 'E_GATEWAY_EXISTS', err.message);
    case 'E_GATEWAY_UNKNOWN':
      return new ApiProblem(404, 'E_NOT_FOUND', err.message);
  }
}

const notFound = (id: string): ApiProblem => new ApiProblem(404, 'E_NOT_FOUND', `gateway ${id} is not provisioned; GET /v1/gateways lists the known ones`);

export function gatewayRoutes(deps: ApiDeps): FastifyPluginAsync {
  const store = deps.registry.store;
  const history = new GatewayMetricsStore(deps.registry.sql);
  return async (app) => {
    const r = app.withTypeProvider<TjsTypeProvider>();

    r.get('/v1/gateways', { schema: listGatewaysSchema }, async (request) => {
      const q = request.query;
      if (q.release !== undefined && q.model === undefined) throw new ApiProblem(400, 'E_VALIDATION', 'query.release: needs query.model (the release of which model)');
      const limit = q.limit ?? DEFAULT_PAGE_LIMIT;
      const sel = selector(q.selector);
      const rows = await store.list({
        ...(sel === undefined ? {} : { selector: sel }),
        ...(q.site === undefined ? {} : { site: q.site }),
        ...(q.status === undefined ? {} : { status: q.status as GatewayStatus }),
        ...(q.model === undefined ? {} : { model: q.model }),
        ...(q.release === undefined ? {} : { release: q.release }),
        ...(q.after === undefined ? {} : { after: q.after }),
        limit: limit + 1,
      });
      const items = rows.slice(0, limit);
      return { items, next: rows.length > limit ? (items[items.length - 1]?.id ?? null) : null };
    });

    r.get('/v1/gateway-counts', { schema: gatewayCountsSchema }, async (request) => {
      const sel = selector(request.query.selector);
      const counts = await store.count({ ...(sel === undefined ? {} : { selector: sel }), ...(request.query.site === undefined ? {} : { site: request.query.site }) });
      return { total: Object.values(counts).reduce((a, b) => a + b, 0), ...counts };
    });

    r.get('/v1/gateways/:id', { schema: getGatewaySchema }, async (request) => {
      const gateway = await store.get(request.params.id);
      if (gateway === undefined) throw notFound(request.params.id);
      return gateway;
    });

    r.get('/v1/gateways/:id/metrics', { schema: gatewayMetricsSchema }, async (request) => {
      const q = request.query;
      if (q.from !== undefined && q.to !== undefined && q.to <= q.from) throw new ApiProblem(400, 'E_VALIDATION', `query.to: must be after query.from (${q.from}), got ${q.to}`);
      if (!(await store.exists(request.params.id))) throw notFound(request.params.id);
      const items = await history.list(request.params.id, { ...(q.from === undefined ? {} : { fromMs: q.from }), ...(q.to === undefined ? {} : { toMs: q.to }), limit: q.limit ?? METRICS_LIMIT_DEFAULT });
      return { items };
    });

    r.post('/v1/gateways', { schema: provisionSchema }, async (request, reply) => {
      const b = request.body;
      const result = await deps.registry.provision({ id: b.id, ...(b.site === undefined ? {} : { site: b.site }), ...(b.labels === undefined ? {} : { labels: b.labels }), ...(b.replace === undefined ? {} : { replace: b.replace }) }).catch((err: unknown) => {
        throw registryProblem(err);
      });
      const root = await deps.rootJson();
      if (root !== null && (typeof root !== 'object' || Array.isArray(root))) throw new Error('rootJson(): expected the root metadata as a JSON object or null');
      return reply.code(201).send({
        gateway: result.gateway,
        replaced: result.replaced,
        credentials: { username: result.username, password: result.password, clientId: result.clientId },
        brokerUrl: deps.provisioning.brokerUrl,
        config: gatewayConfigSection(result, deps.provisioning),
        root: root as Record<string, unknown> | null,
      });
    });

    r.post('/v1/gateways/:id/revoke', { schema: revokeGatewaySchema }, async (request) => {
      return deps.registry.revoke(request.params.id).catch((err: unknown) => {
        throw err instanceof RegistryError && err.code === 'E_GATEWAY_UNKNOWN' ? notFound(request.params.id) : err;
      });
    });
  };
}
