import { decodeRecordMessage } from '../../fleet/ingest/record-message.js';
import { fleetFilters, type WireRecord } from '../../fleet/protocol/index.js';
import { DeliveryTally, LatencyReservoir } from '../score/index.js';

/** What a consumer at the broker saw of one gateway's records. */
export interface GatewayTap {
  readonly tally: DeliveryTally;
  readonly latency: LatencyReservoir;
  records: number;
  alerts: number;
  lastReceivedMs: number;
}

/** The broker's in-process subscription (EmbeddedBroker.subscribe). */
export type Subscribe = (filter: string, onMessage: (topic: string, payload: Buffer) => void) => Promise<() => Promise<void>>;

/** serial-sensor telemetry carries its MCU samples: boot, first index, one array per channel. */
function mcuSamples(r: WireRecord): { boot: number; first: number; count: number } | undefined {
  const d = r.data;
  if (r.class !== 'telemetry' || typeof d !== 'object' || d === null) return undefined;
  const { boot, n, values } = d as { boot?: unknown; n?: unknown; values?: unknown };
  if (typeof boot !== 'number' || typeof n !== 'number' || typeof values !== 'object' || values === null) return undefined;
  const first = Object.values(values as Record<string, unknown>)[0];
  return Array.isArray(first) ? { boot, first: n, count: first.length } : undefined;
}

/**
 * Every record the gateways deliver, as the broker passes it on: per gateway a delivery tally
 * (ids and MCU samples) and a latency sample (received minus the record's ts). One tap per
 * known gateway: a gateway id the run did not start is counted in `strangers`, not tallied
 * (bounded by the run's gateways).
 */
export class DeliveryTap {
  readonly gateways = new Map<string, GatewayTap>();
  strangers = 0;
  undecodable = 0;
  private unsubscribe: (() => Promise<void>) | undefined;

  constructor(ids: readonly string[], seed: number) {
    for (const [i, id] of ids.entries()) this.gateways.set(id, { tally: new DeliveryTally(), latency: new LatencyReservoir(undefined, seed + i), records: 0, alerts: 0, lastReceivedMs: 0 });
  }

  async start(subscribe: Subscribe): Promise<void> {
    this.unsubscribe = await subscribe(fleetFilters.records, (topic, payload) => this.onMessage(topic, payload));
  }

  async stop(): Promise<void> {
    await this.unsubscribe?.();
    this.unsubscribe = undefined;
  }

  get totalRecords(): number {
    let n = 0;
    for (const g of this.gateways.values()) n += g.records;
    return n;
  }

  private onMessage(topic: string, payload: Buffer): void {
    const now = Date.now();
    let delivery;
    try {
      delivery = decodeRecordMessage(topic, payload);
    } catch {
      // The fleet's ingest rejects it too (and says why in its log); the scorecard counts what arrived.
      this.undecodable += 1;
      return;
    }
    const g = this.gateways.get(delivery.gatewayId);
    if (g === undefined) {
      this.strangers += 1;
      return;
    }
    for (const r of delivery.records) {
      if (g.tally.addRecord(r.id, mcuSamples(r))) {
        g.records += 1;
        if (r.class === 'alert') g.alerts += 1;
        g.latency.add(now - r.ts);
      }
    }
    g.lastReceivedMs = now;
  }
}
