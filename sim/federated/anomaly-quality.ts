import { AutoencoderScorer, cutWindows, trainAutoencoderOnWindows } from '../../models/anomaly/autoencoder/model.js';
import type { InferenceBackend } from '../../models/engine/engine.js';
import { MOTOR_CHANNELS, MotorSignals, type FaultKind } from '../mcu/signals.js';
import { CHANNEL_NAMES, collectNormalWindows } from './gateway-data.js';
import type { FleetMotor } from './motor-fleet.js';

/** A fault switched on at `start` and off at `end` (sample indices, end exclusive). */
export interface FaultEpisode {
  readonly kind: FaultKind;
  readonly start: number;
  readonly end: number;
}

/**
 * Fault episodes from `firstS` on: `count` episodes of `lengthS` seconds, `gapS` of normal
 * running between them, the kinds taken in turn.
 */
export function faultSchedule(kinds: readonly FaultKind[], count: number, o: { rateHz: number; firstS: number; lengthS: number; gapS: number }): FaultEpisode[] {
  return Array.from({ length: count }, (_, i) => {
    const start = Math.round((o.firstS + i * (o.lengthS + o.gapS)) * o.rateHz);
    return { kind: kinds[i % kinds.length] as FaultKind, start, end: start + Math.round(o.lengthS * o.rateHz) };
  });
}

/** A motor's samples from its start (a cold start) with the episodes' faults switched on and off. */
export function faultySamples(motor: FleetMotor, rateHz: number, seconds: number, episodes: readonly FaultEpisode[]): Float64Array {
  const signals = new MotorSignals(motor.seed, motor.profile);
  const rows = Math.round(seconds * rateHz);
  const c = MOTOR_CHANNELS.length;
  const out = new Float64Array(rows * c);
  for (let i = 0; i < rows; i += 1) {
    for (const e of episodes) {
      if (i === e.start) signals.setFault(e.kind, true, i);
      if (i === e.end) signals.setFault(e.kind, false, i);
    }
    out.set(signals.sample(i, rateHz), i * c);
  }
  return out;
}

/** Scores of the windows the anomaly stage scores (one every `strideSamples`), through the model file's scorer. */
export async function windowScores(scorer: AutoencoderScorer, samples: Float64Array, strideSamples: number): Promise<{ starts: number[]; scores: number[] }> {
  const c = CHANNEL_NAMES.length;
  const w = scorer.meta.windowSamples;
  const { data, count } = cutWindows(samples, samples.length / c, c, w, strideSamples);
  const scores: number[] = [];
  const batch = 512;
  for (let k = 0; k < count; k += batch) {
    const n = Math.min(batch, count - k);
    for (const r of await scorer.score(data.slice(k * w * c, (k + n) * w * c), n)) scores.push(r.score);
  }
  return { starts: Array.from({ length: count }, (_, k) => k * strideSamples), scores };
}

export interface DetectionQuality {
  readonly threshold: number;
  readonly episodes: number;
  readonly detected: number;
  readonly recall: number;
  /** Per fault kind: [detected, episodes]. */
  readonly byKind: Readonly<Record<string, readonly [number, number]>>;
  /** Windows of normal running (no overlap with an episode, nor within a window after one) at or above the threshold. */
  readonly falseAlarmWindows: number;
  readonly normalWindows: number;
  readonly falseAlarmRate: number;
  /** The highest score of a normal window: the margin below the threshold. */
  readonly peakNormalScore: number;
}

/**
 * Window-level quality at `threshold`: an episode is detected when a window overlapping it
 * scores at or above the threshold; a false alarm is a window of normal running that does.
 * The window right after an episode is neither (a stuck sensor coming back is a jump that
 * really is unusual).
 */
export function detectionQuality(starts: readonly number[], scores: readonly number[], windowSamples: number, episodes: readonly FaultEpisode[], threshold: number): DetectionQuality {
  const byKind: Record<string, [number, number]> = {};
  let detected = 0;
  for (const e of episodes) {
    const hit = starts.some((s, k) => s < e.end && s + windowSamples > e.start && (scores[k] as number) >= threshold);
    if (hit) detected += 1;
    const entry = (byKind[e.kind] ??= [0, 0]);
    entry[0] += hit ? 1 : 0;
    entry[1] += 1;
  }
  let normalWindows = 0;
  let falseAlarmWindows = 0;
  let peakNormalScore = 0;
  starts.forEach((s, k) => {
    if (episodes.some((e) => s < e.end + windowSamples && s + windowSamples > e.start)) return;
    normalWindows += 1;
    const score = scores[k] as number;
    if (score >= threshold) falseAlarmWindows += 1;
    peakNormalScore = Math.max(peakNormalScore, score);
  });
  return {
    threshold,
    episodes: episodes.length,
    detected,
    recall: episodes.length === 0 ? 1 : detected / episodes.length,
    byKind,
    falseAlarmWindows,
    normalWindows,
    falseAlarmRate: normalWindows === 0 ? 0 : falseAlarmWindows / normalWindows,
    peakNormalScore,
  };
}

export interface LocalModelOptions {
  readonly rateHz: number;
  readonly windowSamples: number;
  readonly trainSeconds: number;
  readonly trainWindows: number;
  readonly hidden: readonly number[];
  readonly epochs: number;
  readonly learningRate: number;
  readonly seed: number;
}

/**
 * What a gateway does alone, as the anomaly stage does it: collects its own normal running
 * for the training period (a candidate window every half window, a uniform reservoir of
 * `trainWindows`), then trainAutoencoderOnWindows (every fifth window held out over the whole
 * period, batches of 64) and loads the model file with the stage's scorer.
 */
export async function trainLocalModel(motor: FleetMotor, backend: InferenceBackend, o: LocalModelOptions): Promise<AutoencoderScorer> {
  const { data, count, positions } = collectNormalWindows(motor, { rateHz: o.rateHz, windowSamples: o.windowSamples, seconds: o.trainSeconds, capacity: o.trainWindows, seed: o.seed });
  const trained = await trainAutoencoderOnWindows(data, count, { channels: CHANNEL_NAMES, windowSamples: o.windowSamples, hidden: o.hidden, epochs: o.epochs, batchSize: 64, learningRate: o.learningRate, seed: o.seed, heldOut: 0.2, positions });
  return AutoencoderScorer.load(trained.bytes, backend, { providers: ['cpu'] });
}

export interface NewGatewayOptions {
  readonly rateHz: number;
  readonly windowSamples: number;
  /** The stage scores a window every strideSamples (ANOMALY_DEFAULTS: 16). */
  readonly strideSamples: number;
  /** Seconds of running scored. */
  readonly seconds: number;
  readonly episodes: { readonly kinds: readonly FaultKind[]; readonly count: number; readonly firstS: number; readonly lengthS: number; readonly gapS: number };
  /** The stage's raise threshold: the operating point of both models. */
  readonly threshold: number;
  /** The gateway's own model, trained as the stage trains it (trainMs: an hour). */
  readonly local: LocalModelOptions;
}

export interface NewGatewayQuality {
  /** The federated model from the gateway's first second, faults from `firstS` on. */
  readonly federated: DetectionQuality;
  /** The gateway's own model after its training hour, the same faults shifted past the hour. */
  readonly local: DetectionQuality;
  /** The federated model on the same stretch after the hour (warm motor), for comparison. */
  readonly federatedAfterHour: DetectionQuality;
}

/**
 * Issue 14's test 3: a gateway that joins with the federated model scores its motor from the
 * first second, with faults injected from its first minute on; the gateway's own model, which
 * it could only have after an hour of collecting and training, is scored on the same faults
 * after that hour. Both at the stage's raise threshold; the own model's false-alarm rate is the
 * bound the federated model is held to.
 */
export async function newGatewayQuality(federatedFile: Uint8Array, motor: FleetMotor, backend: InferenceBackend, o: NewGatewayOptions): Promise<NewGatewayQuality> {
  const schedule = (offsetS: number): FaultEpisode[] => faultSchedule(o.episodes.kinds, o.episodes.count, { rateHz: o.rateHz, firstS: offsetS + o.episodes.firstS, lengthS: o.episodes.lengthS, gapS: o.episodes.gapS });
  const federated = await AutoencoderScorer.load(federatedFile, backend, { providers: ['cpu'] });
  const local = await trainLocalModel(motor, backend, o.local);
  try {
    const early = schedule(0);
    const fromStart = await windowScores(federated, faultySamples(motor, o.rateHz, o.seconds, early), o.strideSamples);
    // After the hour: the same motor run on (the same sample stream), the same faults shifted.
    const hourS = o.local.trainSeconds;
    const late = schedule(hourS);
    const c = CHANNEL_NAMES.length;
    const lateSamples = faultySamples(motor, o.rateHz, hourS + o.seconds, late).subarray(Math.round(hourS * o.rateHz) * c);
    const shifted = late.map((e) => ({ ...e, start: e.start - Math.round(hourS * o.rateHz), end: e.end - Math.round(hourS * o.rateHz) }));
    const own = await windowScores(local, lateSamples, o.strideSamples);
    const fedLate = await windowScores(federated, lateSamples, o.strideSamples);
    return {
      federated: detectionQuality(fromStart.starts, fromStart.scores, o.windowSamples, early, o.threshold),
      local: detectionQuality(own.starts, own.scores, o.windowSamples, shifted, o.threshold),
      federatedAfterHour: detectionQuality(fedLate.starts, fedLate.scores, o.windowSamples, shifted, o.threshold),
    };
  } finally {
    await federated.close();
    await local.close();
  }
}
