import type { Stage } from '../../pipeline/components.js';
import type { RecordInput } from '../../pipeline/record.js';
import { defineStage } from '../../pipeline/registry.js';
import { aggregateSchema } from './schema.js';

interface ChannelSummary {
  count: number;
  sum: number;
  min: number;
  max: number;
}

interface Window {
  readonly startMs: number;
  readonly stream: string;
  readonly channels: Map<string, ChannelSummary>;
  records: number;
}

/** Streams summarised at once at most: bounds the stage's memory. */
const MAX_OPEN_WINDOWS = 1024;

/**
 * Summarises telemetry per stream over fixed, wall-aligned windows of `windowMs`: for each
 * channel of `data.values` (numbers or lists of numbers) the count, mean, min and max.
 * One record per stream and window goes on; the raw records are consumed. For a plant that
 * samples at 1 kHz but needs trends at 1 Hz, this is the difference between a cellular bill
 * and none. Records without `data.values` pass through unchanged.
 */
export class AggregateStage implements Stage {
  private readonly open = new Map<string, Window>();

  constructor(
    private readonly windowMs: number,
    private readonly suffix: string,
  ) {}

  process(records: readonly RecordInput[]): RecordInput[] {
    const out: RecordInput[] = [];
    for (const r of records) {
      const values = (r.data as { values?: unknown } | null)?.values;
      if (values === null || typeof values !== 'object') {
        out.push(r);
        continue;
      }
      const startMs = Math.floor(r.ts / this.windowMs) * this.windowMs;
      let w = this.open.get(r.stream);
      if (w !== undefined && w.startMs !== startMs) {
        out.push(this.close(w));
        w = undefined;
      }
      if (w === undefined) {
        if (this.open.size >= MAX_OPEN_WINDOWS) {
          const oldest = this.open.values().next().value as Window;
          out.push(this.close(oldest));
        }
        w = { startMs, stream: r.stream, channels: new Map(), records: 0 };
        this.open.set(r.stream, w);
      }
      w.records += 1;
      for (const [name, v] of Object.entries(values as Record<string, unknown>)) {
        const list = Array.isArray(v) ? v : [v];
        let s = w.channels.get(name);
        for (const x of list) {
          if (typeof x !== 'number' || !Number.isFinite(x)) continue;
          if (s === undefined) {
            s = { count: 0, sum: 0, min: x, max: x };
            w.channels.set(name, s);
          }
          s.count += 1;
          s.sum += x;
          if (x < s.min) s.min = x;
          if (x > s.max) s.max = x;
        }
      }
    }
    return out;
  }

  private close(w: Window): RecordInput {
    this.open.delete(w.stream);
    const channels: Record<string, { count: number; mean: number; min: number; max: number }> = {};
    for (const [name, s] of w.channels) channels[name] = { count: s.count, mean: s.sum / s.count, min: s.min, max: s.max };
    return { stream: `${w.stream}${this.suffix}`, class: 'telemetry', ts: w.startMs, data: { windowMs: this.windowMs, records: w.records, channels } };
  }

  flush(): RecordInput[] {
    return [...this.open.values()].map((w) => this.close(w));
  }
}

export const aggregatePlugin = defineStage({
  type: 'aggregate',
  configSchema: aggregateSchema,
  // Raw samples become one summary per stream and window; anything without `data.values` goes on as it came.
  flow: { accepts: ['samples'], emits: ['summaries'], passes: ['summaries', 'events'] },
  create: (config) => new AggregateStage(config.windowMs, config.streamSuffix ?? '.agg'),
});
