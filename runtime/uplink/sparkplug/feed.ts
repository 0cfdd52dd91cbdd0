import type { FeedValue } from './metrics.js';

/**
 * What the edge node reads: the records of the sources it publishes, oldest first. The lead
 * wires it to the outbox's `sparkplug` consumer; tests use a memory feed.
 */
export interface FeedRecord {
  /** Unique per record (the outbox record id). */
  readonly id: string;
  /** The source (device) that produced it. */
  readonly sourceId: string;
  /** The source's timestamp, ms since 1970: sent as each metric's timestamp. */
  readonly ts: number;
  /**
   * When the record was stored, ms since 1970 (its `ts` will do if the store keeps no time).
   * A record stored before the current session's NBIRTH is sent with is_historical: it waited
   * through an outage, a host offline or a restart, and the birth already carried newer values.
   */
  readonly storedAtMs: number;
  readonly values: Readonly<Record<string, FeedValue>>;
  /** Units by value name, as the source declared them (checked against the config's). */
  readonly units?: Readonly<Record<string, string>>;
  /**
   * When the record's values are lists of samples over time (its data has a sample rate,
   * `rateHz`, as a synthetic or serial sensor's with several samples a record): the time
   * between two samples. Sample i of a list goes out as its own value of the metric, stamped
   * ts + i x this. Absent: a list is one value (a Modbus point's registers) and fits a metric
   * only with one element.
   */
  readonly samplePeriodMs?: number;
}

export interface SparkplugFeed {
  /**
   * Up to `max` records not yet handed out (or handed back by `release`), oldest first; resolves
   * with [] when the signal aborts. Waits while there is nothing to read.
   */
  next(max: number, signal: AbortSignal): Promise<FeedRecord[]>;
  /** The broker has them (PUBACK): never hand them out again. */
  ack(records: readonly FeedRecord[]): void;
  /** Everything handed out and not acked goes back to the front, in order (after a disconnect). */
  release(): void;
}
