import { ProtocolError } from './errors.js';

/**
 * Topic names between gateways and the fleet. Everything lives under one versioned root
 * so that a breaking change gets a new root and both versions can share a broker. The
 * layout needs only MQTT 3.1.1 features: `+` wildcards and retained messages.
 */
export const TOPIC_ROOT = 'edgewise/v1';

/** A gateway id is also a topic level and an MQTT client id suffix: no wildcards, no slashes. */
export const GATEWAY_ID_PATTERN = '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$';
const gatewayIdRe = new RegExp(GATEWAY_ID_PATTERN);

export function isGatewayId(value: string): boolean {
  return gatewayIdRe.test(value);
}

/** What a gateway publishes under `edgewise/v1/gw/{id}/`. */
export type GatewayTopicKind = 'records' | 'state' | 'health';

export const gatewayTopics = {
  /** Batches of outbox records, CBOR, QoS 1, not retained. */
  records: (gatewayId: string): string => `${TOPIC_ROOT}/gw/${gatewayId}/records`,
  /** Online/offline, JSON, QoS 1, retained; the MQTT Last Will publishes offline here. */
  state: (gatewayId: string): string => `${TOPIC_ROOT}/gw/${gatewayId}/state`,
  /** The periodic health report, JSON, QoS 1, retained. */
  health: (gatewayId: string): string => `${TOPIC_ROOT}/gw/${gatewayId}/health`,
  /** Each step of a model update, JSON, QoS 1. */
  updateReport: (gatewayId: string): string => `${TOPIC_ROOT}/gw/${gatewayId}/update-report`,
  /** Fleet to gateway: a model release to check for, JSON, QoS 1 (the gateway subscribes). */
  releaseNotice: (gatewayId: string): string => `${TOPIC_ROOT}/gw/${gatewayId}/release`,
} as const;

/** Fleet to every gateway: a model release to check for. */
export const FLEET_RELEASE_TOPIC = `${TOPIC_ROOT}/fleet/release`;

/** Subscription filters for a receiver of every gateway's messages of one kind. */
export const fleetFilters = {
  records: `${TOPIC_ROOT}/gw/+/records`,
  state: `${TOPIC_ROOT}/gw/+/state`,
  health: `${TOPIC_ROOT}/gw/+/health`,
  updateReport: `${TOPIC_ROOT}/gw/+/update-report`,
} as const;

export interface ParsedGatewayTopic {
  readonly gatewayId: string;
  readonly kind: GatewayTopicKind;
}

const kinds: readonly GatewayTopicKind[] = ['records', 'state', 'health'];

/** Parses `edgewise/v1/gw/{id}/{kind}`; throws E_TOPIC_INVALID for anything else. */
export function parseGatewayTopic(topic: string): ParsedGatewayTopic {
  const parts = topic.split('/');
  const [root, version, gw, gatewayId, kind] = parts;
  if (parts.length !== 5 || `${root}/${version}` !== TOPIC_ROOT || gw !== 'gw' || gatewayId === undefined || kind === undefined) {
    throw new ProtocolError('E_TOPIC_INVALID', `topic ${JSON.stringify(topic)}: expected ${TOPIC_ROOT}/gw/{gatewayId}/{kind}`);
  }
  if (!isGatewayId(gatewayId)) {
    throw new ProtocolError('E_TOPIC_INVALID', `topic ${JSON.stringify(topic)}: ${JSON.stringify(gatewayId)} is not a gateway id`);
  }
  if (!(kinds as readonly string[]).includes(kind)) {
    throw new ProtocolError('E_TOPIC_INVALID', `topic ${JSON.stringify(topic)}: expected kind one of ${kinds.join(', ')}`);
  }
  return { gatewayId, kind: kind as GatewayTopicKind };
}

/**
 * Every kind a gateway publishes under `edgewise/v1/gw/{id}/` (the broker's ACL allows a
 * gateway exactly these topics of its own and nothing else).
 */
export const GATEWAY_PUBLISH_KINDS = ['records', 'state', 'health', 'update-report'] as const;
export type GatewayPublishKind = (typeof GATEWAY_PUBLISH_KINDS)[number];

/** Fleet-to-gateway command kinds under `edgewise/v1/gw/{id}/`: a gateway reads them, never writes them. */
export const GATEWAY_COMMAND_KINDS = ['release'] as const;
export type GatewayCommandKind = (typeof GATEWAY_COMMAND_KINDS)[number];

/** `edgewise/v1/gw/{id}/{kind}` for any gateway kind, published or command. */
export function gatewayTopic(gatewayId: string, kind: GatewayPublishKind | GatewayCommandKind): string {
  return `${TOPIC_ROOT}/gw/${gatewayId}/${kind}`;
}

/** The fleet-wide tree: only the fleet publishes under it; gateways read some of it. */
export const FLEET_TOPIC_PREFIX = `${TOPIC_ROOT}/fleet`;

/** Federated-learning rounds (announcements and global models) live under this prefix. */
export const FLEET_LEARNING_PREFIX = `${FLEET_TOPIC_PREFIX}/learning`;
export const FLEET_LEARNING_FILTER = `${FLEET_LEARNING_PREFIX}/#`;

/** What every gateway may read besides its own command topics. */
export const GATEWAY_FLEET_READ_FILTERS: readonly string[] = [FLEET_RELEASE_TOPIC, FLEET_LEARNING_FILTER];

/**
 * Federated learning's control messages (fleet/protocol/federated/, PROTOCOL.md "Federated
 * rounds"). The announcement names no gateway (who was drawn is secret), so it goes where every
 * gateway reads; each drawn gateway's invitation, and the fleet's acknowledgement of its update
 * chunks, go on that gateway's own command topics, which only it may read; its update chunks go
 * on its own publish topic. Every topic is one level per id, so no id can act as a wildcard.
 */
export const LEARNING_TASK_PATTERN = '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$';
const learningTaskRe = new RegExp(LEARNING_TASK_PATTERN);

export function isLearningTaskId(value: string): boolean {
  return learningTaskRe.test(value);
}

/** Gateway-to-fleet kinds of federated learning under `edgewise/v1/gw/{id}/`. */
export const GATEWAY_LEARNING_PUBLISH_KINDS = ['learning-update', 'learning-secagg'] as const;
/** Fleet-to-gateway kinds of federated learning under `edgewise/v1/gw/{id}/`: the gateway reads them, never writes them. */
export const GATEWAY_LEARNING_COMMAND_KINDS = ['learning-invitation', 'learning-ack', 'learning-secagg-relay'] as const;

export const learningTopics = {
  /** Fleet to every gateway: the open round of a task, JSON, QoS 1, retained (an empty retained message clears it). */
  announcement: (task: string): string => {
    if (!isLearningTaskId(task)) throw new ProtocolError('E_TOPIC_INVALID', `learning task ${JSON.stringify(task)}: not a task id (${LEARNING_TASK_PATTERN})`);
    return `${FLEET_LEARNING_PREFIX}/${task}/announcement`;
  },
  /** Fleet to one drawn gateway: you are in this round, JSON, QoS 1, not retained. */
  invitation: (gatewayId: string): string => `${TOPIC_ROOT}/gw/${gatewayId}/learning-invitation`,
  /** Gateway to fleet: the chunks of its update (CBOR, federated/chunks.ts), QoS 1, not retained. */
  update: (gatewayId: string): string => `${TOPIC_ROOT}/gw/${gatewayId}/learning-update`,
  /** Fleet to one gateway: which chunks of its update are still missing, JSON, QoS 1, not retained. */
  chunkAck: (gatewayId: string): string => `${TOPIC_ROOT}/gw/${gatewayId}/learning-ack`,
  /** Gateway to fleet, secure rounds: its secure-aggregation messages (CBOR, federated/secagg-message.ts), QoS 1, not retained. */
  secAgg: (gatewayId: string): string => `${TOPIC_ROOT}/gw/${gatewayId}/learning-secagg`,
  /**
   * Fleet to one gateway, secure rounds: the round's parameters and what the fleet relays of the
   * protocol (key roster, sealed shares addressed to it, unmasking request), CBOR, QoS 1, not
   * retained. A topic of its own, not the gateway's learning-secagg: MQTT 3.1.1 has no
   * "no local", so a gateway subscribed to the topic it publishes on would get its own masked
   * input back.
   */
  secAggRelay: (gatewayId: string): string => `${TOPIC_ROOT}/gw/${gatewayId}/learning-secagg-relay`,
} as const;

/** A gateway's subscription to every task's announcement. */
export const LEARNING_ANNOUNCEMENT_FILTER = `${FLEET_LEARNING_PREFIX}/+/announcement`;
/** The fleet's subscription to every gateway's update chunks. */
export const LEARNING_UPDATE_FILTER = `${TOPIC_ROOT}/gw/+/learning-update`;
/** The fleet's subscription to every gateway's secure-aggregation messages. */
export const LEARNING_SECAGG_FILTER = `${TOPIC_ROOT}/gw/+/learning-secagg`;

/** The task of `edgewise/v1/fleet/learning/{task}/announcement`; throws E_TOPIC_INVALID for anything else. */
export function parseLearningAnnouncementTopic(topic: string): string {
  const prefix = `${FLEET_LEARNING_PREFIX}/`;
  const suffix = '/announcement';
  const task = topic.startsWith(prefix) && topic.endsWith(suffix) ? topic.slice(prefix.length, topic.length - suffix.length) : undefined;
  if (task === undefined || !isLearningTaskId(task)) {
    throw new ProtocolError('E_TOPIC_INVALID', `topic ${JSON.stringify(topic)}: expected ${FLEET_LEARNING_PREFIX}/{task}/announcement`);
  }
  return task;
}

/** The sender of `edgewise/v1/gw/{id}/learning-update`; throws E_TOPIC_INVALID for anything else. */
export function parseLearningUpdateTopic(topic: string): string {
  return parseGatewayLearningTopic(topic, 'learning-update');
}

/** The sender of `edgewise/v1/gw/{id}/learning-secagg`; throws E_TOPIC_INVALID for anything else. */
export function parseLearningSecAggTopic(topic: string): string {
  return parseGatewayLearningTopic(topic, 'learning-secagg');
}

function parseGatewayLearningTopic(topic: string, expected: (typeof GATEWAY_LEARNING_PUBLISH_KINDS)[number]): string {
  const parts = topic.split('/');
  const [root, version, gw, gatewayId, kind] = parts;
  if (parts.length !== 5 || `${root}/${version}` !== TOPIC_ROOT || gw !== 'gw' || gatewayId === undefined || !isGatewayId(gatewayId) || kind !== expected) {
    throw new ProtocolError('E_TOPIC_INVALID', `topic ${JSON.stringify(topic)}: expected ${TOPIC_ROOT}/gw/{gatewayId}/${expected}`);
  }
  return gatewayId;
}
