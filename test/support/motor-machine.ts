import { sampleChannel, seededRandom, type ChannelSpec } from '../../devices/synthetic/signals.js';

/** A motor as the synthetic source plays it for the federated-learning tests: 1 kHz, three channels. */
export const MOTOR_RATE_HZ = 1000;
/** The autoencoder's window, in samples. */
export const MOTOR_WINDOW = 32;
export const MOTOR_CHANNELS: ChannelSpec[] = [
  { name: 'vibration', unit: 'g', sine: { amplitude: 1, frequencyHz: 7 }, noise: { stddev: 0.05 } },
  { name: 'temperature', unit: 'degC', offset: 41, sine: { amplitude: 0.5, frequencyHz: 0.5 }, noise: { stddev: 0.02 } },
  { name: 'current', unit: 'A', offset: 10, sine: { amplitude: 2, frequencyHz: 13 }, noise: { stddev: 0.1 } },
];

/** `rows` samples of the motor from `fromMs` on, time-major, with noise seeded by `seed` (as the source's `seed` makes them). */
export function motorSamples(rows: number, seed: number, fromMs = 0): Float64Array {
  const random = seededRandom(seed);
  const out = new Float64Array(rows * MOTOR_CHANNELS.length);
  for (let i = 0; i < rows; i += 1) MOTOR_CHANNELS.forEach((ch, c) => (out[i * MOTOR_CHANNELS.length + c] = sampleChannel(ch, fromMs + (i * 1000) / MOTOR_RATE_HZ, random)));
  return out;
}
