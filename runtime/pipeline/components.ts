import type { ComponentEvents } from '../health/events.js';
import type { DecisionEntry } from '../store/decision-log.js';
import type { BoundedQueue } from './bounded-queue.js';
import type { EmitResult, RecordInput } from './record.js';

export interface EmitOptions {
  /**
   * The source's position after these records: stored in the same LevelDB batch as they are
   * (see `SourceContext.readCheckpoint`). A stage that consumes the records passes it on with
   * its next output.
   */
  readonly checkpoint?: Uint8Array;
}

/** The answer to an `emit`: the batch is on the edge; `stored` settles when the store decided. */
export interface Receipt {
  readonly stored: Promise<EmitResult>;
}

/** What a running source is given. */
export interface SourceContext {
  /**
   * Hands records to the pipeline. Resolves when the first edge took them (which under the
   * `block` policy waits for space: that is the backpressure). `receipt.stored` resolves
   * only after LevelDB has the records (or a policy dropped them): acknowledge an upstream
   * device only then.
   */
  emit(records: readonly RecordInput[], options?: EmitOptions): Promise<Receipt>;
  /**
   * Resolves when the first edge can take `records` more without its overflow policy dropping
   * any (or the source is stopped). For a source that must not lose records to a `dropOldest`
   * or `sample` edge, such as a file played as fast as the pipeline goes: wait here, then emit.
   * Optional: contexts without an edge (unit tests) have none.
   */
  waitForRoom?(records: number): Promise<void>;
  /**
   * The last checkpoint stored with this source's records (undefined: none yet). Optional:
   * contexts without a store (unit tests, benchmarks) have none.
   */
  readCheckpoint?(): Promise<Uint8Array | undefined>;
  /** Aborted when the gateway stops the source. */
  readonly signal: AbortSignal;
  readonly events: ComponentEvents;
}

/**
 * A producer of records: a camera, a serial sensor, a synthetic signal. Lifecycle:
 * created from validated config, `start` begins producing (and may retry connections
 * in the background), `stop` returns once it will emit no more.
 */
export interface Source {
  start(ctx: SourceContext): Promise<void>;
  stop(): Promise<void>;
  /**
   * Driver-specific counters for the health report (link errors, reconnects...). `degraded:
   * true` with a `degradedReason` puts the gateway's status to degraded (input that cannot be
   * read, say).
   */
  stats?(): Readonly<Record<string, number | string | boolean | null>>;
  /**
   * Can the source read its device at all right now? `false` means no data will come until it
   * recovers: the port is not open, the connection is down, every slave or peer is silent. A
   * source that only partly fails (one slave of three) stays answering and says so in `stats()`'s
   * `degradedReason`. The gateway polls it (about once a second) and tells the Sparkplug edge
   * node, which sends the device's DDEATH, and its DBIRTH when it answers again. Optional: a
   * source without the notion (a synthetic signal) is taken as always answering.
   *
   * `scope`: a part of the source, as its streams name it after the source id (a Modbus
   * slave's name: streams `<id>.<slave>.<group>`), when a Sparkplug device is that part only;
   * a source that does not know the scope answers for the whole.
   */
  answering?(scope?: string): boolean;
  /**
   * Sets the device's value `name` (a key of this source's record values) to `value`, as a
   * Sparkplug host's DCMD asks; resolves once the device acknowledged it. Rejects with an
   * error naming what was wrong (no such point, not writable, a value that does not fit, the
   * device refused). `scope` as for `answering`: the value of that part (a Modbus slave).
   * Optional: a source without it cannot be written to.
   */
  writeValue?(name: string, value: number | boolean | string, scope?: string): Promise<void>;
}

/**
 * A transform between edges: records in, records out (possibly none, possibly of another
 * class). A stage that holds state across batches (a window) returns what it holds from
 * `flush` when the pipeline drains.
 */
export interface Stage {
  process(records: readonly RecordInput[]): readonly RecordInput[] | Promise<readonly RecordInput[]>;
  flush?(): readonly RecordInput[] | Promise<readonly RecordInput[]>;
  stop?(): Promise<void>;
  /**
   * Stage-specific counters for the health report. `degraded: true` with a `degradedReason`
   * puts the gateway's status to degraded (a model on a lesser execution provider, say).
   */
  stats?(): Readonly<Record<string, number | string | boolean | null>>;
}

/** The decision log as plug-ins see it. */
export interface DecisionSink {
  append(entry: DecisionEntry): Promise<void>;
}

/**
 * Where pipelines end: a consumer of their last edges that settles each batch once it has
 * done with it. The store writer (LevelDB outbox) is the one sink today; the uplink reads
 * the outbox, not an edge, so delivery never depends on memory.
 */
export interface Sink {
  attach(edge: BoundedQueue): void;
  start(): void;
  /** Resolves when every attached edge is empty and nothing is in progress. */
  whenIdle(): Promise<void>;
  stop(): Promise<void>;
}
