import {
  FLEET_LEARNING_FILTER,
  FLEET_LEARNING_PREFIX,
  FLEET_RELEASE_TOPIC,
  GATEWAY_COMMAND_KINDS,
  GATEWAY_LEARNING_COMMAND_KINDS,
  GATEWAY_LEARNING_PUBLISH_KINDS,
  GATEWAY_PUBLISH_KINDS,
  TOPIC_ROOT,
  isGatewayId,
  type GatewayPublishKind,
} from '../protocol/index.js';

/** Every kind gateway `G` publishes under `edgewise/v1/gw/G/`: its records and reports, and its federated updates. */
export const GATEWAY_OWN_PUBLISH_KINDS = [...GATEWAY_PUBLISH_KINDS, ...GATEWAY_LEARNING_PUBLISH_KINDS] as const;
export type GatewayOwnPublishKind = GatewayPublishKind | (typeof GATEWAY_LEARNING_PUBLISH_KINDS)[number];
/** Every kind addressed to gateway `G` alone: release notices, and its federated invitations and chunk acknowledgements. */
export const GATEWAY_OWN_COMMAND_KINDS = [...GATEWAY_COMMAND_KINDS, ...GATEWAY_LEARNING_COMMAND_KINDS] as const;

/**
 * Who is on the other end of an MQTT connection, as established at CONNECT. The fleet
 * service is one principal (username FLEET_USERNAME) however many connections it opens.
 */
export type Principal = { readonly kind: 'gateway'; readonly gatewayId: string } | { readonly kind: 'fleet' };

/**
 * The access table, in one place for both enforcement points (the embedded broker's hooks
 * and the generated Mosquitto ACL file):
 *
 * | principal | publish | subscribe |
 * | --- | --- | --- |
 * | gateway `G` | `edgewise/v1/gw/G/{records,state,health,update-report,learning-update,learning-secagg}` | `edgewise/v1/gw/G/{release,learning-invitation,learning-ack,learning-secagg-relay}`, `edgewise/v1/fleet/release`, `edgewise/v1/fleet/learning/#` (and filters inside it) |
 * | fleet | any topic under `edgewise/v1/` | any filter under `edgewise/v1/` |
 *
 * Everything else is refused: another gateway's topics, a gateway's own command topic,
 * the fleet tree, `$SYS`, and wildcards that reach past what is listed.
 */

/** The exact topics gateway `gatewayId` may publish to. */
export function gatewayPublishTopics(gatewayId: string): string[] {
  return GATEWAY_OWN_PUBLISH_KINDS.map((kind) => `${TOPIC_ROOT}/gw/${gatewayId}/${kind}`);
}

/** The topics and filters gateway `gatewayId` may subscribe to (its own commands, then the fleet-wide ones). */
export function gatewaySubscribeFilters(gatewayId: string): string[] {
  return [...GATEWAY_OWN_COMMAND_KINDS.map((kind) => `${TOPIC_ROOT}/gw/${gatewayId}/${kind}`), FLEET_RELEASE_TOPIC, FLEET_LEARNING_FILTER];
}

const publishKinds: ReadonlySet<string> = new Set(GATEWAY_OWN_PUBLISH_KINDS);
const commandKinds: ReadonlySet<string> = new Set(GATEWAY_OWN_COMMAND_KINDS);

/** The kind of `topic` when it is one that gateway `gatewayId` publishes, else undefined. */
export function ownPublishKind(gatewayId: string, topic: string): GatewayOwnPublishKind | undefined {
  const prefix = `${TOPIC_ROOT}/gw/${gatewayId}/`;
  if (!isGatewayId(gatewayId) || !topic.startsWith(prefix)) return undefined;
  const kind = topic.slice(prefix.length);
  return publishKinds.has(kind) ? (kind as GatewayOwnPublishKind) : undefined;
}

/** MQTT 3.1.1 topic name: non-empty, no wildcards, no NUL (section 4.7). */
export function isTopicName(topic: string): boolean {
  return topic.length > 0 && !/[+#\u0000]/.test(topic);
}

/** MQTT 3.1.1 topic filter: `+` only as a whole level, `#` only as the whole last level. */
export function isTopicFilter(filter: string): boolean {
  if (filter.length === 0 || filter.includes('\u0000')) return false;
  const levels = filter.split('/');
  return levels.every((level, i) => {
    if (level.includes('#')) return level === '#' && i === levels.length - 1;
    if (level.includes('+')) return level === '+';
    return true;
  });
}

/**
 * Whether `filter` matches `topic` (MQTT 3.1.1 section 4.7): `+` is one level, `#` the
 * rest including the parent level, and a filter starting with a wildcard never matches a
 * `$` topic.
 */
export function filterMatches(filter: string, topic: string): boolean {
  if (topic.startsWith('$') && (filter.startsWith('+') || filter.startsWith('#'))) return false;
  const f = filter.split('/');
  const t = topic.split('/');
  for (let i = 0; i < f.length; i++) {
    const level = f[i];
    if (level === '#') return i === f.length - 1;
    if (i >= t.length) return false;
    if (level !== '+' && level !== t[i]) return false;
  }
  return f.length === t.length;
}

const underRoot = (s: string): boolean => s.startsWith(`${TOPIC_ROOT}/`);

/** May `principal` publish to `topic`? Exact topics only for gateways. */
export function mayPublish(principal: Principal, topic: string): boolean {
  if (!isTopicName(topic)) return false;
  if (principal.kind === 'fleet') return underRoot(topic);
  return ownPublishKind(principal.gatewayId, topic) !== undefined;
}

/** May `principal` subscribe to `filter`? A refused filter is refused whole, never narrowed. */
export function maySubscribe(principal: Principal, filter: string): boolean {
  if (!isTopicFilter(filter)) return false;
  if (principal.kind === 'fleet') return underRoot(filter);
  const id = principal.gatewayId;
  if (!isGatewayId(id)) return false;
  if (filter === FLEET_RELEASE_TOPIC || filter === FLEET_LEARNING_PREFIX) return true;
  // Anything inside the learning tree, wildcards included: it can only match learning topics.
  if (filter.startsWith(`${FLEET_LEARNING_PREFIX}/`)) return true;
  const own = `${TOPIC_ROOT}/gw/${id}/`;
  return filter.startsWith(own) && commandKinds.has(filter.slice(own.length));
}
