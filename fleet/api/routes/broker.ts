import type { FastifyPluginAsync } from 'fastify';
import type { ApiDeps } from '../deps.js';
import { mosquittoCredentialsSchema } from '../schemas/broker.js';
import type { TjsTypeProvider } from '../type-provider.js';

/** What an external broker needs from the registry (`edgewise fleet acl` while the fleet runs). */
export function brokerRoutes(deps: ApiDeps): FastifyPluginAsync {
  return async (app) => {
    const r = app.withTypeProvider<TjsTypeProvider>();
    r.get('/v1/broker/mosquitto-credentials', { schema: mosquittoCredentialsSchema, config: { access: 'write' } }, async () => ({
      gateways: await deps.registry.store.mosquittoCredentials(),
      fleetPasswordMosquitto: await deps.fleetMosquittoHash(),
    }));
  };
}
