import type { HealthReport } from '../../fleet/protocol/index.js';
import type { ComponentEvents } from '../health/events.js';
import { BoundedQueue, type QueueItem, type QueueOptions, type QueueStats } from './bounded-queue.js';
import type { EmitOptions, Receipt, Source, SourceContext, Stage } from './components.js';
import { addResults, emptyResult, type Checkpoint, type EmitResult, type RecordInput } from './record.js';

/** Where checkpoints written with records are read back (the outbox). */
export interface CheckpointReader {
  readCheckpoint(key: string): Promise<Uint8Array | undefined>;
}

export interface StageSpec {
  readonly type: string;
  readonly stage: Stage;
  /** The edge into this stage. */
  readonly queue: QueueOptions;
}

export interface PipelineSpec {
  readonly id: string;
  readonly sourceId: string;
  readonly sourceType: string;
  readonly source: Source;
  readonly stages: readonly StageSpec[];
  /** The edge into the store. */
  readonly queue: QueueOptions;
  /** Where the source's checkpoints are read back at start; without it the source gets none. */
  readonly checkpoints?: CheckpointReader;
}

/** A source's counters as the health report carries them. */
export type SourceStats = HealthReport['sources'][number];

/** Records a stage worker takes from its edge per `process` round. */
const STAGE_TAKE_RECORDS = 4096;

/**
 * One source, its stages, and the bounded edges between them:
 *
 *   source -> edge -> stage 1 -> edge -> ... -> stage n -> edge (drained by the store writer)
 *
 * Each stage runs as its own async worker; a full edge applies its policy to the
 * producer in front of it. The pipeline counts what its source emitted and what became
 * of it.
 */
export class Pipeline {
  readonly edges: readonly BoundedQueue[];
  private readonly sourceAbort = new AbortController();
  private readonly workerAbort = new AbortController();
  /** Per edge: its producer (the source, or the stage before) will push nothing more. */
  private readonly producerDone: boolean[];
  private workers: Promise<void>[] = [];
  /** Per stage: a checkpoint whose records the stage consumed, to go out with its next output. */
  private readonly carried: (Checkpoint | undefined)[];
  private emitted = 0;
  private stored = 0;
  private dropped = 0;
  private started = false;

  constructor(
    readonly spec: PipelineSpec,
    private readonly events: ComponentEvents,
  ) {
    const names = ['source', ...spec.stages.map((s) => s.type), 'store'];
    const edges: BoundedQueue[] = spec.stages.map((s, i) => new BoundedQueue(`${names[i]}->${names[i + 1]}`, s.queue));
    edges.push(new BoundedQueue(`${names[names.length - 2]}->store`, spec.queue));
    this.edges = edges;
    this.producerDone = edges.map(() => false);
    this.carried = spec.stages.map(() => undefined);
  }

  get id(): string {
    return this.spec.id;
  }

  /** The last edge, which the store writer drains. */
  get output(): BoundedQueue {
    return this.edges[this.edges.length - 1] as BoundedQueue;
  }

  stageStats(): { type: string; details: Readonly<Record<string, number | string | boolean | null>> }[] {
    return this.spec.stages.map((s) => ({ type: s.type, details: s.stage.stats?.() ?? {} }));
  }

  edgeStats(): QueueStats[] {
    return this.edges.map((e) => e.stats());
  }

  sourceStats(): SourceStats {
    const details = this.spec.source.stats?.();
    return { id: this.spec.sourceId, type: this.spec.sourceType, emitted: this.emitted, stored: this.stored, dropped: this.dropped, ...(details === undefined ? {} : { details }) };
  }

  async start(): Promise<void> {
    this.started = true;
    this.workers = this.spec.stages.map((s, i) => this.runStage(s, i));
    const first = this.edges[0] as BoundedQueue;
    const ctx: SourceContext = {
      signal: this.sourceAbort.signal,
      events: this.events,
      waitForRoom: (records: number) => first.waitForRoom(records, this.sourceAbort.signal),
      ...(this.spec.checkpoints === undefined ? {} : { readCheckpoint: () => (this.spec.checkpoints as CheckpointReader).readCheckpoint(this.spec.sourceId) }),
      emit: async (records: readonly RecordInput[], options?: EmitOptions): Promise<Receipt> => {
        this.emitted += records.length;
        let settle!: (r: EmitResult) => void;
        const stored = new Promise<EmitResult>((resolve) => {
          settle = (r) => {
            this.stored += r.stored;
            this.dropped += r.dropped;
            resolve(r);
          };
        });
        const checkpoint = options?.checkpoint === undefined ? undefined : { key: this.spec.sourceId, value: options.checkpoint };
        await first.push(records, settle, this.sourceAbort.signal, checkpoint);
        return { stored };
      },
    };
    await this.spec.source.start(ctx);
  }

  /**
   * Stage `index` reads edge `index` and writes edge `index + 1`. It stops only when its edge
   * is empty and its producer is done, so a drain runs front to back and nothing is left
   * between stages; then it flushes what it holds and tells the next stage it is done.
   */
  private async runStage(spec: StageSpec, index: number): Promise<void> {
    const input = this.edges[index] as BoundedQueue;
    const output = this.edges[index + 1] as BoundedQueue;
    const signal = this.workerAbort.signal;
    for (;;) {
      if (input.length === 0) {
        if (this.producerDone[index] === true || signal.aborted) break;
        await input.waitForItems(signal);
        continue;
      }
      for (const item of input.take(STAGE_TAKE_RECORDS)) await this.processItem(spec, item, output, index);
    }
    if (!signal.aborted) {
      const rest = (await spec.stage.flush?.()) ?? [];
      if (rest.length > 0) await output.push(rest, () => undefined, signal, this.takeCarried(index));
    }
    this.producerDone[index + 1] = true;
    output.wakeConsumers();
  }

  /** The checkpoint for stage `index`'s next output: its input's latest, carried past consumed batches. */
  private takeCarried(index: number): Checkpoint | undefined {
    const c = this.carried[index];
    this.carried[index] = undefined;
    return c;
  }

  private async processItem(spec: StageSpec, item: QueueItem, output: BoundedQueue, index: number): Promise<void> {
    // A consumed or failed batch's checkpoint waits for the stage's next output (a later one replaces it).
    if (item.checkpoint !== undefined) this.carried[index] = item.checkpoint;
    let out: readonly RecordInput[];
    try {
      out = await spec.stage.process(item.records);
    } catch (err) {
      // A stage bug must not stop the pipeline; the batch is counted as dropped.
      this.events.error('stage.failed', { code: 'E_STAGE_FAILED', pipeline: this.spec.id, stage: spec.type, records: item.records.length, reason: (err as Error).message });
      item.settle({ ...emptyResult, dropped: item.records.length });
      return;
    }
    if (out.length === 0) {
      item.settle({ ...emptyResult, consumed: item.records.length });
      return;
    }
    await output.push(out, (r) => item.settle(addResults(emptyResult, r)), this.workerAbort.signal, this.takeCarried(index));
  }

  /** Stops the source: no more emits after this resolves. */
  async stopSource(): Promise<void> {
    this.sourceAbort.abort();
    if (this.started) await this.spec.source.stop();
  }

  /** Lets the stages work off their edges, flush, and stop. Call after `stopSource`. */
  async drainStages(): Promise<void> {
    this.producerDone[0] = true;
    // Wake the first stage so it notices; each stage wakes the next when it is done.
    this.edges[0]?.wakeConsumers();
    await Promise.all(this.workers);
    await Promise.all(this.spec.stages.map((s) => s.stage.stop?.()));
  }

  /** Gives up on draining: workers stop and whatever is queued is dropped and counted. */
  abort(): number {
    this.workerAbort.abort();
    return this.edges.reduce((n, e) => n + e.dropAll(), 0);
  }
}
