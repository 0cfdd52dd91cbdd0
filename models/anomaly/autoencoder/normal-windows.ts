import type { KeptWindows } from './federated-round.js';
import { WindowReservoir } from './window-reservoir.js';

/** Streams kept at most (the anomaly stage watches at most 64). */
const MAX_STREAMS = 64;

/**
 * The normal windows an anomaly stage keeps for federated learning: per stream, a uniform
 * reservoir (WindowReservoir) of at most `capacity` windows, so the sample covers every load and
 * shift in bounded memory: capacity x windowSamples x channels x 8 bytes per stream (2,048
 * windows of 32 x 3: 1.5 MiB).
 */
export class NormalWindows {
  private readonly streams = new Map<string, { readonly channels: readonly string[]; readonly reservoir: WindowReservoir; lastRow: number }>();

  constructor(
    private readonly capacity: number,
    private readonly windowSamples: number,
    private readonly seed: number,
  ) {}

  /**
   * Offers one window of `stream` (raw values, its channels' order); `row` is its first sample's
   * running index. A window overlapping the last one taken is passed over: the candidates do
   * not overlap, so holding one out as validation never drops a neighbour that shares its
   * samples (splitSpread drops those, and scored windows overlap by most of their length).
   */
  offer(stream: string, channels: readonly string[], window: Float64Array, row: number): void {
    let s = this.streams.get(stream);
    if (s === undefined) {
      if (this.streams.size >= MAX_STREAMS) return;
      s = { channels: [...channels], reservoir: new WindowReservoir(this.capacity, this.windowSamples * channels.length, this.seed), lastRow: -Infinity };
      this.streams.set(stream, s);
    }
    if (row - s.lastRow < this.windowSamples) return;
    s.lastRow = row;
    s.reservoir.offer(window, row);
  }

  /** Windows kept over all streams. */
  get size(): number {
    let n = 0;
    for (const s of this.streams.values()) n += s.reservoir.size;
    return n;
  }

  /**
   * A copy of the windows of the streams that share the most common channel list (one model
   * reads one column layout), oldest first per stream. Streams are placed far apart in
   * position, so no window of one counts as overlapping another's.
   */
  snapshot(): KeptWindows {
    const key = (channels: readonly string[]): string => JSON.stringify(channels);
    const totals = new Map<string, number>();
    for (const s of this.streams.values()) totals.set(key(s.channels), (totals.get(key(s.channels)) ?? 0) + s.reservoir.size);
    const best = [...totals].sort((x, y) => y[1] - x[1])[0]?.[0];
    const chosen = [...this.streams.values()].filter((s) => key(s.channels) === best && s.reservoir.size > 0);
    const channels = chosen[0]?.channels ?? [];
    const dims = this.windowSamples * channels.length;
    const parts = chosen.map((s) => s.reservoir.take());
    const count = parts.reduce((n, p) => n + p.count, 0);
    const data = new Float64Array(count * dims);
    const positions = new Float64Array(count);
    let at = 0;
    parts.forEach((p, k) => {
      data.set(p.data, at * dims);
      for (let j = 0; j < p.count; j += 1) positions[at + j] = (p.positions[j] as number) + k * 2 ** 40;
      at += p.count;
    });
    return { data, count, positions, channels, windowSamples: this.windowSamples };
  }
}
