import {
  AttributeIds,
  ClientMonitoredItemGroup,
  ClientSubscription,
  DataChangeFilter,
  DataChangeTrigger,
  DeadbandType,
  TimestampsToReturn,
  type ClientSession,
  type MonitoringParametersOptions,
  type NotificationMessage,
} from 'node-opcua-client';
import type { SourceEvent } from './counters.js';
import { OpcuaError } from './errors.js';
import { describeItemFailure } from './item-failure.js';
import { parseNodeId } from './node-id.js';
import type { OpcuaItemConfig, OpcuaSubscriptionConfig } from './schema.js';
import { SubscriptionTracker } from './sequence-tracker.js';

export interface ItemState {
  readonly config: OpcuaItemConfig;
  ok: boolean;
  status: string | null;
}

/** One configured subscription: its items, its sequence numbers, and node-opcua's objects for it once created. */
export interface SubState {
  readonly config: OpcuaSubscriptionConfig;
  readonly stream: string;
  readonly items: ItemState[];
  readonly units: Readonly<Record<string, string>>;
  readonly tracker: SubscriptionTracker;
  /** clientHandle -> item, rebuilt when the server recreated the items (new handles). */
  handles: Map<number, ItemState>;
  groups: { group: ClientMonitoredItemGroup; items: ItemState[] }[];
  /** A republish of the gaps is scheduled or running. */
  filling: boolean;
  /** A new session since the last notification: the next one tells transferred from recreated. */
  sessionChanged: boolean;
  /** Recreated since the connection was lost (then the new session is no transfer). */
  recreatedSinceLoss: boolean;
  sub: ClientSubscription | undefined;
}

/** What the source does with a created subscription's events. */
export interface SubscriptionListener {
  notification(s: SubState, m: NotificationMessage): void;
  /** node-opcua created the subscription again (the server no longer had it). */
  recreated(s: SubState, subscriptionId: number): void;
}

/** The status of an item whose `nsu=` namespace URI is not in the server's namespace array (not an OPC UA status code: no request was made). */
const NAMESPACE_UNKNOWN = 'NamespaceUnknown';

export function newSubState(config: OpcuaSubscriptionConfig, sourceId: string): SubState {
  const units: Record<string, string> = {};
  for (const i of config.items) units[i.name] = i.unit ?? '';
  return {
    config,
    stream: config.stream ?? `${sourceId}.${config.name}`,
    items: config.items.map((item) => ({ config: item, ok: false, status: null })),
    units,
    tracker: new SubscriptionTracker(),
    handles: new Map(),
    groups: [],
    sessionChanged: false,
    recreatedSinceLoss: false,
    filling: false,
    sub: undefined,
  };
}

/**
 * The node id node-opcua takes for an item: `nsu=URI;rest` becomes `ns=<index>;rest` by the
 * server's namespace array (read once per connect); undefined when the server has no such
 * namespace. node-opcua's own parser does not take `nsu=` (it throws, failing the connection).
 */
function resolveNodeId(nodeId: string, namespaces: readonly string[]): string | undefined {
  const parsed = parseNodeId(nodeId);
  if (!parsed.ok || parsed.id.namespaceUri === null) return nodeId;
  const index = namespaces.indexOf(parsed.id.namespaceUri);
  return index < 0 ? undefined : `ns=${index};${parsed.id.kind}=${parsed.id.value}`;
}

function monitoringParameters(item: OpcuaItemConfig): MonitoringParametersOptions {
  return {
    samplingInterval: item.samplingIntervalMs ?? -1,
    queueSize: item.queueSize ?? 10,
    discardOldest: true,
    ...(item.deadband !== undefined
      ? {
          filter: new DataChangeFilter({
            trigger: DataChangeTrigger.StatusValue,
            deadbandType: item.deadband.type === 'absolute' ? DeadbandType.Absolute : DeadbandType.Percent,
            deadbandValue: item.deadband.value,
          }),
        }
      : {}),
  };
}

/**
 * Creates subscription `s` on `session` with its monitored items. An item the server refuses (or
 * whose namespace URI it does not have) fails alone: it is marked, named in `opcua.items_failed`,
 * and the others are created.
 */
export async function subscribe(session: ClientSession, s: SubState, namespaces: readonly string[], endpoint: string, listener: SubscriptionListener, event: SourceEvent): Promise<void> {
  const c = s.config;
  const nodeIds = new Map<ItemState, string>();
  const unknownNamespace: ItemState[] = [];
  for (const item of s.items) {
    const id = resolveNodeId(item.config.nodeId, namespaces);
    if (id === undefined) {
      item.ok = false;
      item.status = NAMESPACE_UNKNOWN;
      unknownNamespace.push(item);
    } else {
      nodeIds.set(item, id);
    }
  }
  const sub = ClientSubscription.create(session, {
    requestedPublishingInterval: c.publishingIntervalMs ?? 1000,
    requestedLifetimeCount: c.lifetimeCount ?? 600,
    requestedMaxKeepAliveCount: c.keepAliveCount ?? 10,
    maxNotificationsPerPublish: 0,
    publishingEnabled: true,
    priority: 1,
  });
  s.sub = sub;
  await new Promise<void>((resolve, reject) => {
    sub.once('started', () => resolve());
    sub.once('internal_error', (err: Error) => reject(new OpcuaError('E_OPCUA_SUBSCRIPTION', `subscription ${c.name} on ${endpoint}: ${err.message}`)));
  });
  s.tracker.reset(sub.subscriptionId);
  sub.on('received_notifications', (m: NotificationMessage) => listener.notification(s, m));
  sub.on('subscriptionId_changed', (newId: number) => listener.recreated(s, newId));
  // Items with the same parameters are created in one request.
  const byParams = new Map<string, ItemState[]>();
  for (const item of nodeIds.keys()) {
    const i = item.config;
    const key = JSON.stringify([i.samplingIntervalMs ?? null, i.queueSize ?? 10, i.deadband ?? null]);
    const list = byParams.get(key) ?? [];
    list.push(item);
    byParams.set(key, list);
  }
  s.groups = [];
  for (const items of byParams.values()) {
    const first = items[0]?.config;
    if (first === undefined) continue;
    const group = ClientMonitoredItemGroup.create(sub, items.map((i) => ({ nodeId: nodeIds.get(i) ?? i.config.nodeId, attributeId: AttributeIds.Value })), monitoringParameters(first), TimestampsToReturn.Both);
    await new Promise<void>((resolve, reject) => {
      group.once('initialized', () => resolve());
      group.once('err', (message: string) => reject(new OpcuaError('E_OPCUA_SUBSCRIPTION', `monitored items of subscription ${c.name} on ${endpoint}: ${message}`)));
    });
    s.groups.push({ group, items });
  }
  mapHandles(s);
  const failed = s.items.filter((i) => !i.ok);
  if (failed.length > 0) {
    event('error', 'opcua.items_failed', {
      code: 'E_OPCUA_ITEMS_FAILED',
      subscription: c.name,
      failed: failed.length,
      items: failed.slice(0, 20).map((i) => describeItemFailure(i.config, i.status ?? 'unknown')),
      ...(unknownNamespace.length > 0 ? { serverNamespaces: namespaces.slice(0, 50).map((n, k) => `${k} ${n}`) } : {}),
    });
  }
}

/** clientHandle -> item, and each item's creation status, from the monitored items node-opcua holds. */
export function mapHandles(s: SubState): void {
  s.handles.clear();
  for (const { group, items } of s.groups) {
    group.monitoredItems.forEach((m, i) => {
      const item = items[i];
      if (item === undefined) return;
      const status = m.statusCode;
      item.ok = status.isGood();
      item.status = status.isGood() ? null : status.name;
      s.handles.set(m.monitoringParameters.clientHandle, item);
    });
  }
}
