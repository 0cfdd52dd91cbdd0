import { createRequire } from 'node:module';
import mqtt from 'mqtt';
import spb from 'sparkplug-payload';
import type { EmbeddedBroker } from '../../fleet/broker/embedded-broker.js';

/** How the host reaches the broker: an MQTT client, or in-process on the embedded broker (survives its outages). */
interface HostLink {
  publish(topic: string, payload: Buffer, retain: boolean): Promise<void>;
  close(): Promise<void>;
}

/**
 * A Sparkplug B host application for tests: subscribes to a group, decodes every message, and
 * keeps the alias -> datatype map from the births to decode DATA without datatypes (as a host
 * must: sparkplug-payload's decodePayload gives value null there). It can publish its STATE
 * (3.0 JSON, retained, with a matching Will) and send Node Control/Rebirth.
 */

type RawMetric = {
  name?: string | null;
  alias?: unknown;
  timestamp?: unknown;
  datatype?: number | null;
  isHistorical?: boolean | null;
  isNull?: boolean | null;
  intValue?: number | null;
  longValue?: unknown;
  floatValue?: number | null;
  doubleValue?: number | null;
  booleanValue?: boolean | null;
  stringValue?: string | null;
  properties?: { keys?: string[]; values?: { stringValue?: string | null }[] } | null;
};
type RawPayload = { timestamp?: unknown; seq?: unknown; metrics?: RawMetric[] };
const Payload = (createRequire(import.meta.url)('sparkplug-payload/lib/sparkplugPayloadProto.js') as { org: { eclipse: { tahu: { protobuf: { Payload: { decode(b: Uint8Array): RawPayload; hasOwnProperty?: unknown } } } } } }).org.eclipse.tahu.protobuf.Payload;

export interface HostMetric {
  readonly name: string | undefined;
  readonly alias: number | undefined;
  readonly datatype: number | undefined;
  readonly value: number | boolean | string | null;
  readonly timestamp: number;
  readonly historical: boolean;
  readonly engUnit: string | undefined;
}

export interface HostMessage {
  readonly type: string;
  readonly device: string | undefined;
  readonly seq: number | undefined;
  readonly timestamp: number;
  readonly metrics: readonly HostMetric[];
  /** Topic datatype missing and no birth for the alias: a host could not decode it. */
  readonly unknownAliases: number;
}

function num(v: unknown): number {
  return v === undefined || v === null ? NaN : Number(v as number);
}

function valueOf(m: RawMetric, datatype: number | undefined): number | boolean | string | null {
  if (m.isNull === true) return null;
  switch (datatype) {
    case 1:
      return ((Number(m.intValue) << 24) >> 24);
    case 2:
      return ((Number(m.intValue) << 16) >> 16);
    case 3:
      return Number(m.intValue) | 0;
    case 5:
    case 6:
      return Number(m.intValue);
    case 4:
      return (m.longValue as { toNumber?: () => number; toSigned?: () => { toNumber(): number } }).toSigned?.().toNumber() ?? Number(m.longValue);
    case 7:
    case 8:
      return (m.longValue as { toNumber?: () => number }).toNumber?.() ?? Number(m.longValue);
    case 9:
      return Number(m.floatValue);
    case 10:
      return Number(m.doubleValue);
    case 11:
      return m.booleanValue === true;
    case 12:
      return m.stringValue ?? '';
    default:
      return null;
  }
}

export class SparkplugHost {
  readonly messages: HostMessage[] = [];
  /** alias -> datatype, per edge node, from NBIRTH and DBIRTH. */
  private readonly datatypes = new Map<number, number>();
  decodeErrors = 0;

  private constructor(
    private readonly link: HostLink,
    readonly groupId: string,
    readonly hostId: string,
    private readonly stateTs: number,
  ) {}

  static async connect(url: string, groupId: string, hostId = 'scada-host'): Promise<SparkplugHost> {
    const stateTs = Date.now();
    const client = await mqtt.connectAsync(url, {
      clientId: `host-${hostId}-${Math.random().toString(16).slice(2, 8)}`,
      protocolVersion: 4,
      clean: true,
      reconnectPeriod: 200,
      // The 3.0 host Will: offline with the timestamp of its online message.
      will: { topic: `spBv1.0/STATE/${hostId}`, payload: Buffer.from(JSON.stringify({ online: false, timestamp: stateTs })), qos: 1, retain: true },
    });
    const link: HostLink = {
      publish: async (topic, payload, retain) => {
        await client.publishAsync(topic, payload, { qos: 1, retain });
      },
      close: () => client.endAsync(true),
    };
    const host = new SparkplugHost(link, groupId, hostId, stateTs);
    client.on('message', (topic, payload) => host.onMessage(topic, payload));
    await client.subscribeAsync(`spBv1.0/${groupId}/#`, { qos: 1 });
    return host;
  }

  /** A host inside the broker's process: it sees every message, also across a broker outage. */
  static async attach(broker: EmbeddedBroker, groupId: string, hostId = 'scada-host'): Promise<SparkplugHost> {
    let host: SparkplugHost | undefined;
    const unsubscribe = await broker.subscribe(`spBv1.0/${groupId}/#`, (topic, payload) => host?.onMessage(topic, payload));
    host = new SparkplugHost({ publish: (topic, payload, retain) => broker.publish(topic, payload, { qos: 1, retain }), close: unsubscribe }, groupId, hostId, Date.now());
    return host;
  }

  private onMessage(topic: string, payload: Buffer): void {
    const parts = topic.split('/');
    const type = parts[2] ?? '';
    let raw: RawPayload;
    try {
      raw = Payload.decode(payload);
    } catch {
      this.decodeErrors += 1;
      return;
    }
    const birth = type === 'NBIRTH' || type === 'DBIRTH';
    let unknownAliases = 0;
    // protobufjs puts defaults of absent fields on the prototype: only own properties were on the wire.
    const has = (o: object, key: string): boolean => Object.prototype.hasOwnProperty.call(o, key);
    const metrics = (raw.metrics ?? []).map((m): HostMetric => {
      const alias = has(m, 'alias') ? num(m.alias) : undefined;
      const hasType = has(m, 'datatype');
      if (birth && alias !== undefined && hasType) this.datatypes.set(alias, m.datatype as number);
      const datatype = hasType ? (m.datatype as number) : alias === undefined ? undefined : this.datatypes.get(alias);
      if (datatype === undefined) unknownAliases += 1;
      const keys = m.properties?.keys ?? [];
      const unitAt = keys.indexOf('engUnit');
      return {
        name: has(m, 'name') ? (m.name ?? undefined) : undefined,
        alias,
        datatype: hasType ? (m.datatype as number) : undefined,
        value: valueOf(m, datatype),
        timestamp: num(m.timestamp),
        historical: m.isHistorical === true,
        engUnit: unitAt < 0 ? undefined : (m.properties?.values?.[unitAt]?.stringValue ?? undefined),
      };
    });
    this.messages.push({ type, device: parts[4], seq: has(raw, 'seq') ? num(raw.seq) : undefined, timestamp: num(raw.timestamp), metrics, unknownAliases });
  }

  of(type: string): HostMessage[] {
    return this.messages.filter((m) => m.type === type);
  }

  /** Publishes the retained 3.0 STATE. `timestamp` defaults to the one the Will carries. */
  async publishState(online: boolean, timestamp = this.stateTs): Promise<void> {
    await this.link.publish(`spBv1.0/STATE/${this.hostId}`, Buffer.from(JSON.stringify({ online, timestamp })), true);
  }

  /** NCMD Node Control/Rebirth = true, encoded as a host using sparkplug-payload would. */
  async requestRebirth(edgeNodeId: string): Promise<void> {
    const sp = spb.get('spBv1.0');
    if (sp === null) throw new Error('sparkplug-payload has no spBv1.0');
    const bytes = sp.encodePayload({ timestamp: Date.now(), metrics: [{ name: 'Node Control/Rebirth', type: 'Boolean', value: true }] });
    await this.link.publish(`spBv1.0/${this.groupId}/NCMD/${edgeNodeId}`, Buffer.from(bytes), false);
  }

  /**
   * DCMD to a device, encoded as a host using sparkplug-payload would: each metric by name or
   * by alias (as a host does after the DBIRTH), with its sparkplug-payload type and value.
   */
  async commandDevice(edgeNodeId: string, deviceId: string, metrics: readonly (({ name: string } | { alias: number }) & { type: string; value: unknown })[]): Promise<void> {
    await this.publishDeviceCommand(edgeNodeId, deviceId, this.encode(metrics));
  }

  /** Raw bytes on a device's DCMD topic (a payload that is no Sparkplug payload, say). */
  async publishDeviceCommand(edgeNodeId: string, deviceId: string, bytes: Uint8Array): Promise<void> {
    await this.link.publish(`spBv1.0/${this.groupId}/DCMD/${edgeNodeId}/${deviceId}`, Buffer.from(bytes), false);
  }

  private encode(metrics: readonly Record<string, unknown>[]): Uint8Array {
    const sp = spb.get('spBv1.0');
    if (sp === null) throw new Error('sparkplug-payload has no spBv1.0');
    return sp.encodePayload({ timestamp: Date.now(), metrics: metrics as never });
  }

  async close(): Promise<void> {
    await this.link.close();
  }
}
