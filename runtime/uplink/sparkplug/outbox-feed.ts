import { decodeRecord } from '../../../fleet/protocol/index.js';
import type { ComponentEvents } from '../../health/events.js';
import type { OutboxReader, StoredRecord } from '../../store/outbox.js';
import type { FeedRecord, SparkplugFeed } from './feed.js';
import type { FeedValue } from './metrics.js';

/** The outbox consumer the edge node drains: declared at open only when the config has a `sparkplug` section. */
export const SPARKPLUG_CONSUMER = 'sparkplug';

/** Value bytes per read; a read returns at least one record anyway (see `Outbox.readNext`). */
const READ_MAX_BYTES = 256 * 1024;

export interface OutboxFeedStats {
  /** Records acknowledged without sending: not of a configured source, or not a sample with numeric values. */
  readonly skippedRecords: number;
  /** Stored records that did not decode (counted and skipped: the fleet uplink sends its own copy). */
  readonly undecodable: number;
  /** Records handed to the edge node and not acknowledged yet. */
  readonly leased: number;
}

const isMapping = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Uint8Array);

/** A value the edge node can coerce: a number, boolean, string, null, or a list of numbers. */
function feedValue(v: unknown): FeedValue | undefined {
  if (v === null || typeof v === 'number' || typeof v === 'boolean' || typeof v === 'string') return v;
  if (Array.isArray(v) && v.every((x) => typeof x === 'number')) return v as number[];
  return undefined;
}

const isNumeric = (v: FeedValue): boolean => typeof v === 'number' || (Array.isArray(v) && v.length > 0);

/**
 * The edge node's `SparkplugFeed` on the outbox's `sparkplug` consumer: its own cursor, so the
 * fleet uplink and the plant broker each acknowledge their own copy, and a record leaves the
 * store only once both have it.
 *
 * A stored record is the fleet's wire record (`{id, stream, class, ts, data}`), which does not
 * name its source: the source is the configured Sparkplug source whose id is the stream, or the
 * longest one the stream starts with followed by a dot (the devices' default stream names are
 * `<source id>` and `<source id>.<...>`; a device with a `stream` of its own naming reaches the
 * plant broker only if that name starts so). A record goes to the edge node when it is a sample
 * (`data.values` a mapping) with a numeric value for at least one of the source's configured
 * metrics (only those are handed on); the store keeps no time of its own,
 * so `storedAtMs` is the record's `ts`.
 *
 * Every other record (another source's, a stage's result, an alert, one that does not decode) is
 * acknowledged here at once for this consumer, without sending: it must not pin the outbox, which
 * deletes a record only when every consumer acknowledged it. They are counted (`skippedRecords`).
 */
export class OutboxFeed implements SparkplugFeed {
  /** Handed to the edge node, not acknowledged, by record id: at most its in-flight DDATA plus one read. */
  private readonly leased = new Map<string, StoredRecord>();
  /** Configured source ids, longest first (the longest prefix wins). */
  private readonly sourceIds: readonly string[];
  /** Per configured source, its metric names. */
  private readonly metricNames: ReadonlyMap<string, ReadonlySet<string>>;
  private releasing: Promise<void> | undefined;
  private skipped = 0;
  private undecodable = 0;

  constructor(
    private readonly reader: OutboxReader,
    sources: readonly { readonly id: string; readonly metrics: readonly { readonly name: string }[] }[],
    private readonly events: ComponentEvents,
  ) {
    this.sourceIds = sources.map((s) => s.id).sort((a, b) => b.length - a.length);
    this.metricNames = new Map(sources.map((s) => [s.id, new Set(s.metrics.map((m) => m.name))]));
  }

  stats(): OutboxFeedStats {
    return { skippedRecords: this.skipped, undecodable: this.undecodable, leased: this.leased.size };
  }

  async next(max: number, signal: AbortSignal): Promise<FeedRecord[]> {
    while (!signal.aborted) {
      // A release hands the leases back first, or this read would start at the old cursor.
      await this.releasing;
      const seen = this.reader.changeVersion;
      const stored = await this.reader.readNext(max, READ_MAX_BYTES, signal);
      if (stored.length === 0) {
        await this.reader.waitForChange(seen, signal);
        continue;
      }
      const out: FeedRecord[] = [];
      const skip: StoredRecord[] = [];
      for (const rec of stored) {
        const feed = this.toFeedRecord(rec);
        if (feed === undefined) skip.push(rec);
        else {
          this.leased.set(feed.id, rec);
          out.push(feed);
        }
      }
      if (skip.length > 0) {
        this.skipped += skip.length;
        this.reader.ack(skip);
      }
      if (out.length > 0) return out;
    }
    return [];
  }

  ack(records: readonly FeedRecord[]): void {
    const stored: StoredRecord[] = [];
    for (const r of records) {
      const rec = this.leased.get(r.id);
      // Not leased any more: released meanwhile, it comes again (the outbox ignores such an ack too).
      if (rec === undefined) continue;
      this.leased.delete(r.id);
      stored.push(rec);
    }
    if (stored.length > 0) this.reader.ack(stored);
  }

  release(): void {
    this.leased.clear();
    const done = this.reader.releaseAll().catch((err: unknown) => {
      // The store failed (closed at stop, or a write error): its leases are handed back at the next open.
      this.events.warn('sparkplug.release_failed', { code: 'E_STORE_RELEASE', reason: (err as Error).message });
    });
    this.releasing = done;
    void done.then(() => {
      if (this.releasing === done) this.releasing = undefined;
    });
  }

  private toFeedRecord(rec: StoredRecord): FeedRecord | undefined {
    let wire;
    try {
      wire = decodeRecord(rec.value);
    } catch (err) {
      this.undecodable += 1;
      if (this.undecodable === 1 || this.undecodable % 1000 === 0) this.events.warn('sparkplug.record_undecodable', { code: 'E_PAYLOAD_INVALID', key: rec.key, count: this.undecodable, reason: (err as Error).message });
      return undefined;
    }
    const sourceId = this.sourceOf(wire.stream);
    if (sourceId === undefined || !isMapping(wire.data) || !isMapping(wire.data['values'])) return undefined;
    const names = this.metricNames.get(sourceId) as ReadonlySet<string>;
    const values: Record<string, FeedValue> = {};
    let numeric = false;
    for (const [name, raw] of Object.entries(wire.data['values'])) {
      // Only the configured metrics: a record with none of them would be an empty DDATA.
      if (!names.has(name)) continue;
      const v = feedValue(raw);
      if (v === undefined) continue;
      values[name] = v;
      if (isNumeric(v)) numeric = true;
    }
    if (!numeric) return undefined;
    const rawUnits = wire.data['units'];
    const units: Record<string, string> = {};
    if (isMapping(rawUnits)) for (const [name, u] of Object.entries(rawUnits)) if (names.has(name) && typeof u === 'string') units[name] = u;
    const rate = wire.data['rateHz'];
    const samplePeriodMs = typeof rate === 'number' && Number.isFinite(rate) && rate > 0 ? 1000 / rate : undefined;
    return { id: wire.id, sourceId, ts: wire.ts, storedAtMs: wire.ts, values, units, ...(samplePeriodMs === undefined ? {} : { samplePeriodMs }) };
  }

  private sourceOf(stream: string): string | undefined {
    return sourceForStream(this.sourceIds, stream);
  }
}

/** The source a stream belongs to: the first of `idsLongestFirst` that is the stream or is followed in it by a dot. */
export function sourceForStream(idsLongestFirst: readonly string[], stream: string): string | undefined {
  return idsLongestFirst.find((id) => stream === id || (stream.length > id.length && stream.startsWith(id) && stream[id.length] === '.'));
}
