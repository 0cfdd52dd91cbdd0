/**
 * Deterministic signal generation for the synthetic source: a seeded PRNG and a pure
 * function from (channel, sample time) to a value.
 */
export interface ChannelSpec {
  readonly name: string;
  readonly unit?: string | undefined;
  readonly offset?: number | undefined;
  readonly sine?: { readonly amplitude: number; readonly frequencyHz: number } | undefined;
  readonly noise?: { readonly stddev: number } | undefined;
  readonly steps?: { readonly everyMs: number; readonly height: number } | undefined;
  readonly spikes?: { readonly probability: number; readonly height: number } | undefined;
}

/** mulberry32: tiny, fast, and good enough for test signals; same seed, same stream. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A standard normal draw (Box-Muller). */
export function gaussian(random: () => number): number {
  const u = 1 - random();
  const v = random();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

/** The channel's value at `tMs` after the source started. */
export function sampleChannel(channel: ChannelSpec, tMs: number, random: () => number): number {
  let value = channel.offset ?? 0;
  if (channel.sine !== undefined) value += channel.sine.amplitude * Math.sin((2 * Math.PI * channel.sine.frequencyHz * tMs) / 1000);
  if (channel.noise !== undefined && channel.noise.stddev > 0) value += channel.noise.stddev * gaussian(random);
  // Steps alternate between the base level and base + height, like a machine changing load.
  if (channel.steps !== undefined && Math.floor(tMs / channel.steps.everyMs) % 2 === 1) value += channel.steps.height;
  if (channel.spikes !== undefined && random() < channel.spikes.probability) value += channel.spikes.height;
  return value;
}
