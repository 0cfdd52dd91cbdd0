/**
 * Delivery accounting of one gateway, from what a consumer at the broker saw.
 *
 * A gateway's record id is `{dbId}.{epoch}.{seq}` (runtime/store/keys.ts, base 36): the epoch
 * grows each time the store opens (every process start), and seq counts from 0 within it,
 * one number per record appended, evicted or not (a record refused as malformed takes none).
 * So within an epoch every number below the highest one seen was a record: a number never
 * seen is a gap, and a gap is either a record the gateway evicted under its disk budget (it
 * counts those) or a record lost. Only the count of evictions is known, not which ids, so
 * gaps are put down to eviction up to the gateway's count and the rest is loss: a scorecard
 * that shows `lost` > 0 has found more holes than the gateway owned up to.
 *
 * Samples: a serial-sensor telemetry record says which MCU samples it carries (`boot`, first
 * index `n`, and how many), so the same tally checks what the MCU produced against what
 * arrived, sample by sample, independently of the store's numbering.
 */
import type { GatewayCounters, McuBootTruth } from './types.js';
import { IntervalSet } from './interval-set.js';

/** What DeliveryTally saw, as plain data (runs of sequence numbers, not every id). */
export interface DeliveryTallySnapshot {
  /** Per store epoch (`{dbId}.{epoch}`), the runs of sequence numbers seen. */
  readonly epochs: Readonly<Record<string, readonly (readonly [number, number])[]>>;
  /** Deliveries of a record already seen. */
  readonly duplicates: number;
  /** Distinct deliveries whose id is not `{dbId}.{epoch}.{seq}` (counted as delivered, not in the gap check). */
  readonly foreignIds: number;
  /** Per MCU boot, the runs of sample indices seen in telemetry. */
  readonly samples: Readonly<Record<string, readonly (readonly [number, number])[]>>;
  readonly duplicateSamples: number;
}

const ID_PATTERN = /^(.+)\.([0-9a-z]{1,8})\.([0-9a-z]{1,10})$/;

/** The store epoch key and sequence number of a record id, or null if it is not one of the store's. */
export function parseRecordId(id: string): { epochKey: string; seq: number } | null {
  const m = ID_PATTERN.exec(id);
  if (m === null) return null;
  const seq = Number.parseInt(m[3] as string, 36);
  if (!Number.isSafeInteger(seq)) return null;
  return { epochKey: `${m[1] as string}.${m[2] as string}`, seq };
}

/**
 * Tallies one gateway's deliveries as they arrive: memory grows with the number of gaps (one
 * run per gap) and of store epochs, not with the number of records. Foreign ids (not the
 * store's format) are kept in a set bounded by `maxForeignIds`; past it they are counted
 * as delivered without duplicate detection.
 */
export class DeliveryTally {
  private readonly epochs = new Map<string, IntervalSet>();
  private readonly samples = new Map<string, IntervalSet>();
  private readonly foreign = new Set<string>();
  private foreignUntracked = 0;
  private duplicates = 0;
  private duplicateSamples = 0;

  constructor(private readonly maxForeignIds = 10_000) {}

  /**
   * One delivery of a record, with the MCU samples it carries (serial-sensor telemetry:
   * `data.boot`, `data.n` and the length of its value arrays). True when it was the first
   * delivery of that id. A redelivered record's samples are not counted again: a duplicate
   * sample is one the gateway stored in two different records.
   */
  addRecord(id: string, samples?: { readonly boot: number; readonly first: number; readonly count: number }): boolean {
    const parsed = parseRecordId(id);
    const fresh = parsed === null ? this.addForeign(id) : this.addStored(parsed.epochKey, parsed.seq);
    if (fresh && samples !== undefined) this.addSamples(samples.boot, samples.first, samples.count);
    return fresh;
  }

  private addStored(epochKey: string, seq: number): boolean {
    let set = this.epochs.get(epochKey);
    if (set === undefined) {
      set = new IntervalSet();
      this.epochs.set(epochKey, set);
    }
    if (set.add(seq)) return true;
    this.duplicates += 1;
    return false;
  }

  private addSamples(boot: number, first: number, count: number): void {
    const key = String(boot);
    let set = this.samples.get(key);
    if (set === undefined) {
      set = new IntervalSet();
      this.samples.set(key, set);
    }
    this.duplicateSamples += set.addRange(first, first + count);
  }

  snapshot(): DeliveryTallySnapshot {
    const runs = (m: Map<string, IntervalSet>): Record<string, [number, number][]> => Object.fromEntries([...m].map(([k, s]) => [k, s.runs()]));
    return {
      epochs: runs(this.epochs),
      duplicates: this.duplicates,
      foreignIds: this.foreign.size + this.foreignUntracked,
      samples: runs(this.samples),
      duplicateSamples: this.duplicateSamples,
    };
  }

  private addForeign(id: string): boolean {
    if (this.foreign.has(id)) {
      this.duplicates += 1;
      return false;
    }
    if (this.foreign.size < this.maxForeignIds) this.foreign.add(id);
    else this.foreignUntracked += 1;
    return true;
  }
}

export interface DeliveryScore {
  /** Records the gateway made: the highest sequence number seen per epoch, or its own count if higher. */
  readonly produced: number;
  /** Produced and not evicted: what the gateway kept for the fleet. */
  readonly stored: number;
  /** Distinct records the consumer received. */
  readonly delivered: number;
  /** Extra deliveries of records already received (the fleet de-duplicates them by id). */
  readonly duplicated: number;
  /** Missing records put down to the disk budget (at most the gateway's own eviction count). */
  readonly evicted: number;
  /** Missing records beyond what the gateway evicted or still holds. */
  readonly lost: number;
  /** Still in the gateway's outbox when scored (produced = delivered + pending + evicted + lost). */
  readonly pending: number;
  /** Holes in the sequence numbers below the highest seen, per gateway. */
  readonly gaps: number;
  readonly samples: SampleScore | null;
}

export interface SampleScore {
  readonly produced: number;
  /** Distinct samples received. */
  readonly delivered: number;
  /** Produced and never received (includes samples in evicted telemetry). */
  readonly missing: number;
  readonly duplicated: number;
}

/** Scores one gateway's deliveries against its own counters (and its MCU's samples, when it has one). */
export function scoreDelivery(seen: DeliveryTallySnapshot, counters: GatewayCounters, mcu: readonly McuBootTruth[] | null): DeliveryScore {
  let seqSpan = 0;
  let distinct = seen.foreignIds;
  for (const runs of Object.values(seen.epochs)) {
    const set = IntervalSet.from(runs);
    seqSpan += set.end;
    distinct += set.size;
  }
  const gaps = seqSpan - (distinct - seen.foreignIds);
  const produced = Math.max(seqSpan + seen.foreignIds, counters.appended ?? 0);
  // Records after the last one seen (only the counters know of them).
  const tail = produced - seqSpan - seen.foreignIds;
  // What never arrived is, in this order: still in the outbox, evicted (up to the gateway's count), lost.
  const missing = gaps + tail;
  const pending = Math.min(missing, counters.pendingAtEnd);
  const unexplained = missing - pending;
  const evicted = Math.min(unexplained, counters.evicted);
  return {
    produced,
    stored: produced - evicted,
    delivered: distinct,
    duplicated: seen.duplicates,
    evicted,
    lost: unexplained - evicted,
    pending,
    gaps,
    samples: mcu === null ? null : scoreSamples(seen, mcu),
  };
}

function scoreSamples(seen: DeliveryTallySnapshot, mcu: readonly McuBootTruth[]): SampleScore {
  let produced = 0;
  let delivered = 0;
  for (const boot of mcu) {
    produced += boot.produced;
    const runs = seen.samples[String(boot.boot)] ?? [];
    // Only indices the boot made count (a record past the truth's end would be a simulator bug, not a delivery).
    for (const [s, e] of runs) delivered += Math.max(0, Math.min(e, boot.produced) - s);
  }
  return { produced, delivered, missing: produced - delivered, duplicated: seen.duplicateSamples };
}

/** Sums per-gateway scores; the totals row of the scorecard. */
export function sumDelivery(scores: readonly DeliveryScore[]): DeliveryScore {
  const sum = (f: (d: DeliveryScore) => number): number => scores.reduce((a, d) => a + f(d), 0);
  const withSamples = scores.flatMap((d) => (d.samples === null ? [] : [d.samples]));
  return {
    produced: sum((d) => d.produced),
    stored: sum((d) => d.stored),
    delivered: sum((d) => d.delivered),
    duplicated: sum((d) => d.duplicated),
    evicted: sum((d) => d.evicted),
    lost: sum((d) => d.lost),
    pending: sum((d) => d.pending),
    gaps: sum((d) => d.gaps),
    samples:
      withSamples.length === 0
        ? null
        : {
            produced: withSamples.reduce((a, s) => a + s.produced, 0),
            delivered: withSamples.reduce((a, s) => a + s.delivered, 0),
            missing: withSamples.reduce((a, s) => a + s.missing, 0),
            duplicated: withSamples.reduce((a, s) => a + s.duplicated, 0),
          },
  };
}
