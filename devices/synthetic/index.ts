import { setTimeout as sleep } from 'node:timers/promises';
import type { RecordClass } from '../../fleet/protocol/index.js';
import type { Source, SourceContext } from '../../runtime/pipeline/components.js';
import type { RecordInput } from '../../runtime/pipeline/record.js';
import { defineSource } from '../../runtime/pipeline/registry.js';
import { syntheticSchema } from './schema.js';
import { sampleChannel, seededRandom, type ChannelSpec } from './signals.js';

/** Records handed over per emit at most, so a source that fell behind catches up in bounded steps. */
const MAX_RECORDS_PER_EMIT = 1000;
/** Falling further behind than this (blocked by backpressure) skips ahead instead of catching up. */
const MAX_LAG_MS = 10_000;
const MIN_TICK_MS = 5;

export interface SyntheticOptions {
  readonly id: string;
  readonly rateHz: number;
  readonly samplesPerRecord: number;
  readonly class: RecordClass;
  readonly stream: string;
  readonly seed: number;
  readonly channels: readonly ChannelSpec[];
}

/**
 * A signal generator on a wall clock: `rateHz` samples per second of every channel,
 * `samplesPerRecord` samples per record. Each record's data is
 * `{ n, rateHz, values: { <channel>: number[] }, units: { <channel>: string } }` where `n` is the index of its first sample
 * since the source started.
 */
export class SyntheticSource implements Source {
  private readonly abort = new AbortController();
  private loop: Promise<void> | undefined;
  private produced = 0;
  private skipped = 0;
  private readonly random: () => number;
  /** Channel units travel with every record, as the serial sensor's do (alerts name them). */
  private readonly units: Readonly<Record<string, string>>;

  constructor(private readonly options: SyntheticOptions) {
    this.random = seededRandom(options.seed);
    this.units = Object.fromEntries(options.channels.map((c) => [c.name, c.unit ?? '']));
  }

  get skippedSamples(): number {
    return this.skipped;
  }

  async start(ctx: SourceContext): Promise<void> {
    this.loop = this.run(ctx).catch((err: unknown) => {
      ctx.events.error('source.failed', { code: 'E_SOURCE_FAILED', source: this.options.id, reason: (err as Error).message });
    });
  }

  private makeRecord(startMs: number): RecordInput {
    const { samplesPerRecord, rateHz, channels } = this.options;
    const n = this.produced;
    const values: Record<string, number[]> = {};
    for (const ch of channels) values[ch.name] = new Array<number>(samplesPerRecord);
    for (let i = 0; i < samplesPerRecord; i += 1) {
      const tMs = ((n + i) * 1000) / rateHz;
      for (const ch of channels) (values[ch.name] as number[])[i] = sampleChannel(ch, tMs, this.random);
    }
    this.produced += samplesPerRecord;
    return { stream: this.options.stream, class: this.options.class, ts: startMs + (n * 1000) / rateHz, data: { n, rateHz, values, units: this.units } };
  }

  private async run(ctx: SourceContext): Promise<void> {
    const { rateHz, samplesPerRecord } = this.options;
    const signal = this.abort.signal;
    const startMs = Date.now();
    const tickMs = Math.max(MIN_TICK_MS, Math.min(1000, (1000 * samplesPerRecord) / rateHz));
    while (!signal.aborted && !ctx.signal.aborted) {
      const elapsed = Date.now() - startMs;
      let due = Math.floor((elapsed * rateHz) / 1000);
      const lagSamples = Math.floor((MAX_LAG_MS * rateHz) / 1000);
      if (due - this.produced > lagSamples) {
        const skip = due - this.produced - lagSamples;
        const whole = skip - (skip % samplesPerRecord);
        this.produced += whole;
        this.skipped += whole;
      }
      while (this.produced + samplesPerRecord <= due && !signal.aborted) {
        const batch: RecordInput[] = [];
        while (batch.length < MAX_RECORDS_PER_EMIT && this.produced + samplesPerRecord <= due) batch.push(this.makeRecord(startMs));
        await ctx.emit(batch);
        due = Math.floor(((Date.now() - startMs) * rateHz) / 1000);
      }
      await sleep(tickMs, undefined, { signal }).catch(() => undefined);
    }
  }

  async stop(): Promise<void> {
    this.abort.abort();
    await this.loop;
  }
}

export const syntheticPlugin = defineSource({
  type: 'synthetic',
  configSchema: syntheticSchema,
  emits: ['samples'],
  create: (config) =>
    new SyntheticSource({
      id: config.id,
      rateHz: config.rateHz,
      samplesPerRecord: config.samplesPerRecord ?? 1,
      class: config.class ?? 'telemetry',
      stream: config.stream ?? config.id,
      seed: config.seed ?? 1,
      channels: config.channels,
    }),
});
