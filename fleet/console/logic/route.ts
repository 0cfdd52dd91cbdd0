/**
 * Hash routes (the fleet serves one index.html; the hash keeps every page a plain link that
 * works on reload without server routes). Pure: parsing and formatting only.
 */

export type Route =
  | { readonly page: 'overview' }
  | { readonly page: 'gateways' }
  | { readonly page: 'gateway'; readonly id: string }
  | { readonly page: 'rollouts' }
  | { readonly page: 'rollout-new' }
  | { readonly page: 'rollout'; readonly id: string }
  | { readonly page: 'events' }
  | { readonly page: 'event'; readonly gatewayId: string; readonly recordId: string }
  | { readonly page: 'learning' }
  | { readonly page: 'learning-task'; readonly id: string }
  | { readonly page: 'releases' }
  | { readonly page: 'not-found'; readonly path: string };

function decode(part: string): string | null {
  try {
    const s = decodeURIComponent(part);
    return s === '' ? null : s;
  } catch {
    return null;
  }
}

export function parseRoute(hash: string): Route {
  const path = hash.replace(/^#/, '').replace(/^\/+/, '').replace(/\/+$/, '');
  const parts = path === '' ? [] : path.split('/');
  const [a, b, c] = parts.map(decode);
  const n = parts.length;
  if (n === 0) return { page: 'overview' };
  if (a === 'gateways' && n === 1) return { page: 'gateways' };
  if (a === 'gateways' && n === 2 && b) return { page: 'gateway', id: b };
  if (a === 'rollouts' && n === 1) return { page: 'rollouts' };
  if (a === 'rollouts' && n === 2 && b === 'new') return { page: 'rollout-new' };
  if (a === 'rollouts' && n === 2 && b) return { page: 'rollout', id: b };
  if (a === 'events' && n === 1) return { page: 'events' };
  if (a === 'events' && n === 3 && b && c) return { page: 'event', gatewayId: b, recordId: c };
  if (a === 'learning' && n === 1) return { page: 'learning' };
  if (a === 'learning' && n === 2 && b) return { page: 'learning-task', id: b };
  if (a === 'releases' && n === 1) return { page: 'releases' };
  return { page: 'not-found', path };
}

/** Links: `href={hrefs.gateway(id)}`. */
export const hrefs = {
  overview: '#/',
  gateways: '#/gateways',
  gateway: (id: string) => `#/gateways/${encodeURIComponent(id)}`,
  rollouts: '#/rollouts',
  rolloutNew: '#/rollouts/new',
  rollout: (id: string) => `#/rollouts/${encodeURIComponent(id)}`,
  events: '#/events',
  event: (gatewayId: string, recordId: string) => `#/events/${encodeURIComponent(gatewayId)}/${encodeURIComponent(recordId)}`,
  learning: '#/learning',
  learningTask: (id: string) => `#/learning/${encodeURIComponent(id)}`,
  releases: '#/releases',
} as const;
