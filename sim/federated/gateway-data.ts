import { WindowReservoir } from '../../models/anomaly/autoencoder/window-reservoir.js';
import { MOTOR_CHANNELS, MotorSignals } from '../mcu/signals.js';
import type { FleetMotor } from './motor-fleet.js';

/** Windows of raw values, `count` x windowSamples x channels, time-major (as the stage cuts them). */
export interface WindowSet {
  readonly data: Float64Array;
  readonly count: number;
  /** windowSamples x channels. */
  readonly dims: number;
  /** Each window's first row (sample index since the motor started). */
  readonly starts: Float64Array;
}

/** What one gateway holds after collecting normal running. */
export interface GatewayData {
  readonly motor: FleetMotor;
  /** What it trains on (a round's sample count is `train.count`). */
  readonly train: WindowSet;
  /** Held out on the gateway: its update's `valLoss`, and the federated calibration. */
  readonly localValidation: WindowSet;
  /** Held out for the simulation's evaluator only, pooled over gateways; no gateway ever trains on it. */
  readonly globalValidation: WindowSet;
}

export interface CollectOptions {
  readonly rateHz: number;
  /** The anomaly stage's `windowSamples` (32). */
  readonly windowSamples: number;
  /** Normal running collected, as the stage's `trainMs` (an hour on a gateway; less in the simulation). */
  readonly collectSeconds: number;
  /** Windows kept over the whole period, as the stage's `trainWindows` (uniform reservoir). */
  readonly keptWindows: number;
}

export const CHANNEL_NAMES: readonly string[] = MOTOR_CHANNELS.map((c) => c.name);

/**
 * A motor's normal running collected as the anomaly stage collects it while it learns: the
 * last `windowSamples` rows kept in a ring, a candidate window every half window (the stage's
 * `windowSamples >> 1`), kept by the stage's own uniform reservoir (WindowReservoir) over the
 * whole period, in bounded memory whatever the period. Returns the kept windows oldest first
 * with their first rows. The windows are those cutWindows (model.ts) cuts at that stride (tested).
 */
export function collectNormalWindows(motor: FleetMotor, o: { readonly rateHz: number; readonly windowSamples: number; readonly seconds: number; readonly capacity: number; readonly seed: number }): { data: Float64Array; count: number; positions: Float64Array } {
  const c = CHANNEL_NAMES.length;
  const signals = new MotorSignals(motor.seed, motor.profile);
  const stride = Math.max(1, o.windowSamples >> 1);
  const dims = o.windowSamples * c;
  const reservoir = new WindowReservoir(o.capacity, dims, o.seed);
  const ring = new Float64Array(dims);
  const rows = Math.round(o.seconds * o.rateHz);
  for (let i = 0; i < rows; i += 1) {
    ring.copyWithin(0, c);
    ring.set(signals.sample(i, o.rateHz), dims - c);
    const start = i + 1 - o.windowSamples;
    if (start >= 0 && start % stride === 0) reservoir.offer(ring, start);
  }
  return reservoir.take();
}

/**
 * A gateway's data: its normal running collected as the stage does (collectNormalWindows),
 * split as the stage splits its reservoir, by position so that every part spans the whole
 * period: of each five windows, the third is held out for local validation and the fifth for
 * the global evaluator; a training window that overlaps a held-out one is dropped (it would
 * leak it), as trainAutoencoderOnWindows drops them.
 */
export function collectGatewayData(motor: FleetMotor, o: CollectOptions): GatewayData {
  const { data, count, positions } = collectNormalWindows(motor, { rateHz: o.rateHz, windowSamples: o.windowSamples, seconds: o.collectSeconds, capacity: o.keptWindows, seed: motor.seed ^ 0x5eed });
  const dims = o.windowSamples * CHANNEL_NAMES.length;
  const role = (k: number): 'train' | 'local' | 'global' => (k % 5 === 2 ? 'local' : k % 5 === 4 ? 'global' : 'train');
  const heldOut = (k: number): boolean => role(k) !== 'train';
  const overlapsHeldOut = (k: number): boolean => {
    for (let j = k - 1; j >= 0 && (positions[k] as number) - (positions[j] as number) < o.windowSamples; j -= 1) if (heldOut(j)) return true;
    for (let j = k + 1; j < count && (positions[j] as number) - (positions[k] as number) < o.windowSamples; j += 1) if (heldOut(j)) return true;
    return false;
  };
  const pick = (keep: (k: number) => boolean): WindowSet => {
    const ks = Array.from({ length: count }, (_, k) => k).filter(keep);
    const out = new Float64Array(ks.length * dims);
    ks.forEach((k, j) => out.set(data.subarray(k * dims, (k + 1) * dims), j * dims));
    return { data: out, count: ks.length, dims, starts: Float64Array.from(ks, (k) => positions[k] as number) };
  };
  return {
    motor,
    train: pick((k) => role(k) === 'train' && !overlapsHeldOut(k)),
    localValidation: pick((k) => role(k) === 'local'),
    globalValidation: pick((k) => role(k) === 'global'),
  };
}

/** Window sets one after another (the pooled training or validation set). */
export function poolWindows(sets: readonly WindowSet[]): WindowSet {
  const dims = sets[0]?.dims ?? 0;
  const count = sets.reduce((n, s) => n + s.count, 0);
  const data = new Float64Array(count * dims);
  const starts = new Float64Array(count);
  let at = 0;
  for (const s of sets) {
    if (s.dims !== dims) throw new RangeError(`pooling windows of ${s.dims} values with windows of ${dims}`);
    data.set(s.data.subarray(0, s.count * dims), at * dims);
    starts.set(s.starts.subarray(0, s.count), at);
    at += s.count;
  }
  return { data, count, dims, starts };
}
