import { existsSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import { ApiProblem } from '../problem.js';

/** The page may load only what the fleet serves itself: no inline script or style, no framing. */
export const CONSOLE_CSP = "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'";
/** The bundles' names carry their content hash: a name never changes content. */
const ASSET_CACHE = 'public, max-age=31536000, immutable';

/** `dist/console` of the package this file belongs to (from fleet/api/routes in the sources, or dist/fleet/api/routes when built). */
export function defaultConsoleDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json')) && dirname(dir) !== dir) dir = dirname(dir);
  return join(dir, 'dist', 'console');
}

/**
 * The web console's files (scripts/build-console.mjs writes them): `GET /` is index.html,
 * revalidated on every load, with a strict CSP; `GET /assets/*` the hashed bundles, cached
 * for good. Brotli or gzip siblings (`.br`, `.gz`) are sent to clients that accept them. No
 * token: the files hold no data (the page asks the API for everything with its token), and
 * the routes stay out of the OpenAPI document. Paths that leave the folder are refused by
 * @fastify/static (`..`, encoded or not, and symlinks out of it).
 */
export function consoleRoutes(dir: string): FastifyPluginAsync {
  return async (app) => {
    // serve: false: only reply.sendFile; the routes are ours, public and hidden.
    await app.register(fastifyStatic, { serve: false, preCompressed: true, decorateReply: true });
    const hidden = { schema: { hide: true }, config: { access: 'public' as const } };

    const notBuilt = (): ApiProblem =>
      new ApiProblem(503, 'E_CONSOLE_NOT_BUILT', `the web console is not built: ${join(dir, 'index.html')} is missing. Run "npm run build" in the edgewise package (scripts/build-console.mjs writes dist/console/); the API under /v1 works without it`);

    const sendIndex = async (reply: FastifyReply): Promise<FastifyReply> => {
      const index = await stat(join(dir, 'index.html')).catch(() => undefined);
      if (index?.isFile() !== true) throw notBuilt();
      void reply.header('cache-control', 'no-cache').header('content-security-policy', CONSOLE_CSP).header('x-content-type-options', 'nosniff').header('referrer-policy', 'no-referrer');
      return reply.sendFile('index.html', dir, { cacheControl: false });
    };

    app.get('/', hidden, async (_request, reply) => sendIndex(reply));

    app.get<{ Params: { '*': string } }>('/assets/*', hidden, async (request, reply) => {
      void reply.header('cache-control', ASSET_CACHE).header('x-content-type-options', 'nosniff');
      return reply.sendFile(request.params['*'], join(dir, 'assets'), { cacheControl: false });
    });
  };
}
