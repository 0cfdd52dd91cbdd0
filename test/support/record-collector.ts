import type { EmbeddedBroker } from '../../fleet/broker/embedded-broker.js';
import { decodeRecordMessage, type RecordDelivery } from '../../fleet/ingest/record-message.js';
import { RecordSubscriber } from '../../fleet/ingest/record-subscriber.js';
import { ProtocolError, fleetFilters } from '../../fleet/protocol/index.js';

/**
 * A fleet-side subscriber for tests: receives every record, remembers ids (so duplicates
 * are counted, not double-counted) and, per stream, the order in which new `n`s arrived.
 */
export class RecordCollector {
  readonly ids = new Set<string>();
  readonly firstSeenOrder = new Map<string, number[]>();
  /** Per stream, the (epoch, seq) of each new record id in arrival order. */
  readonly firstSeenKeys = new Map<string, [number, number][]>();
  duplicates = 0;
  rejected = 0;
  invalid = 0;
  private closeFn: (() => Promise<void>) | undefined;

  /** An MQTT subscriber (QoS 1, a persistent session by default), like a fleet on an external broker. */
  static async connect(url: string, clientId: string, persistentSession = true): Promise<RecordCollector> {
    const c = new RecordCollector();
    const subscriber = await RecordSubscriber.connect({
      url,
      clientId,
      persistentSession,
      onRecords: (d) => c.take(d),
      onInvalid: () => {
        c.invalid += 1;
      },
    });
    c.closeFn = () => subscriber.close();
    return c;
  }

  /** An in-process subscriber of the embedded broker, like the fleet service beside it. */
  static async attach(broker: EmbeddedBroker): Promise<RecordCollector> {
    const c = new RecordCollector();
    c.closeFn = await broker.subscribe(fleetFilters.records, (topic, payload) => {
      try {
        c.take(decodeRecordMessage(topic, payload));
      } catch (err) {
        if (!(err instanceof ProtocolError)) throw err;
        c.invalid += 1;
      }
    });
    return c;
  }

  private take({ records, rejected }: RecordDelivery): void {
    this.rejected += rejected.length;
    for (const r of records) {
      if (this.ids.has(r.id)) {
        this.duplicates += 1;
        continue;
      }
      this.ids.add(r.id);
      const [, epoch, seq] = r.id.split('.');
      push(this.firstSeenKeys, r.stream, [Number.parseInt(String(epoch), 36), Number.parseInt(String(seq), 36)]);
      const n = (r.data as { n?: unknown }).n;
      if (typeof n === 'number') push(this.firstSeenOrder, r.stream, n);
    }
  }

  get count(): number {
    return this.ids.size;
  }

  /** Streams whose records did not arrive in increasing `n` (after dropping duplicates). */
  outOfOrderStreams(): string[] {
    const bad: string[] = [];
    for (const [stream, ns] of this.firstSeenOrder) {
      for (let i = 1; i < ns.length; i += 1) {
        if ((ns[i] as number) <= (ns[i - 1] as number)) {
          bad.push(`${stream} at position ${i}: ${String(ns[i - 1])} then ${String(ns[i])}`);
          break;
        }
      }
    }
    return bad;
  }

  /** Streams whose new records did not arrive in the order the gateway stored them (by id). */
  outOfOrderByStoreOrder(): string[] {
    const bad: string[] = [];
    for (const [stream, keys] of this.firstSeenKeys) {
      for (let i = 1; i < keys.length; i += 1) {
        const [e0, s0] = keys[i - 1] as [number, number];
        const [e1, s1] = keys[i] as [number, number];
        if (e1 < e0 || (e1 === e0 && s1 <= s0)) {
          bad.push(`${stream} at position ${i}: ${e0}.${s0} then ${e1}.${s1}`);
          break;
        }
      }
    }
    return bad;
  }

  /**
   * For each stream, the records that never arrived: a stream that stored `records` records
   * of `step` samples each must have delivered n = 0, step, 2*step, ...
   */
  missing(expected: ReadonlyMap<string, { readonly records: number; readonly step: number }>): Map<string, number[]> {
    const out = new Map<string, number[]>();
    for (const [stream, { records, step }] of expected) {
      const seen = new Set(this.firstSeenOrder.get(stream) ?? []);
      const lost: number[] = [];
      for (let i = 0; i < records; i += 1) if (!seen.has(i * step)) lost.push(i * step);
      if (lost.length > 0) out.set(stream, lost);
    }
    return out;
  }

  async close(): Promise<void> {
    await this.closeFn?.();
  }
}

function push<T>(map: Map<string, T[]>, key: string, value: T): void {
  const list = map.get(key);
  if (list === undefined) map.set(key, [value]);
  else list.push(value);
}
