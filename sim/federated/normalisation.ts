import type { WindowSet } from './gateway-data.js';

/**
 * Per-channel moments of a gateway's training windows: what it sends in the task's first,
 * statistics-only round, so that every gateway and the fleet standardise with the same mean and
 * standard deviation. Sums add up, so the pooled normalisation is exactly what a centralised
 * trainer would compute on the pooled windows, and a sum is what secure aggregation can hide.
 */
export interface ChannelMoments {
  /** Values per channel (windows x windowSamples). */
  readonly count: number;
  readonly sum: readonly number[];
  readonly sumSquares: readonly number[];
}

/** Per-channel mean and standard deviation, as the autoencoder's metadata holds them. */
export interface Normalisation {
  readonly mean: readonly number[];
  readonly std: readonly number[];
}

/** The floor trainAutoencoderOnWindows puts under a channel's standard deviation. */
const STD_FLOOR = 1e-6;

export function channelMoments(set: WindowSet, channels: number): ChannelMoments {
  const sum = new Array<number>(channels).fill(0);
  const sumSquares = new Array<number>(channels).fill(0);
  const values = set.count * set.dims;
  for (let i = 0; i < values; i += 1) {
    const v = set.data[i] as number;
    const c = i % channels;
    sum[c] = (sum[c] as number) + v;
    sumSquares[c] = (sumSquares[c] as number) + v * v;
  }
  return { count: values / channels, sum, sumSquares };
}

export function addMoments(parts: readonly ChannelMoments[]): ChannelMoments {
  const channels = parts[0]?.sum.length ?? 0;
  return {
    count: parts.reduce((n, p) => n + p.count, 0),
    sum: Array.from({ length: channels }, (_, c) => parts.reduce((s, p) => s + (p.sum[c] as number), 0)),
    sumSquares: Array.from({ length: channels }, (_, c) => parts.reduce((s, p) => s + (p.sumSquares[c] as number), 0)),
  };
}

export function normalisationOf(m: ChannelMoments): Normalisation {
  if (m.count < 1) throw new RangeError('no values to normalise by');
  const mean = m.sum.map((s) => s / m.count);
  const std = m.sumSquares.map((s, c) => Math.max(STD_FLOOR, Math.sqrt(Math.max(0, s / m.count - (mean[c] as number) ** 2))));
  return { mean, std };
}

/** The windows standardised per channel, as the autoencoder sees them. */
export function normalise(set: WindowSet, n: Normalisation): Float64Array {
  const channels = n.mean.length;
  const out = new Float64Array(set.count * set.dims);
  for (let i = 0; i < out.length; i += 1) out[i] = ((set.data[i] as number) - (n.mean[i % channels] as number)) / (n.std[i % channels] as number);
  return out;
}
