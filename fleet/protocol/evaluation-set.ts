import { cborDecode, cborEncode } from './cbor.js';
import { ProtocolError } from './errors.js';

/**
 * A labelled evaluation set for anomaly autoencoders, shipped with a release as a signed TUF
 * target: windows of raw sensor values, each labelled normal (0) or anomalous (1). In shadow,
 * a gateway scores it with both its active model and the candidate, on its own hardware, and
 * the rollout's quality gate holds the candidate to be no worse on it (ROC AUC). The fleet
 * checks a set when a release is staged; the gateway checks it again before scoring it.
 *
 * The file is one CBOR map (RFC 8949), readable with any stock CBOR library:
 * `{ format: "edgewise-evaluation", version: 1, kind: "anomaly-windows", channels: [names],
 *    windowSamples: W, count: N, windows: bytes (N x W x channels float32 little-endian,
 *    time-major within a window), labels: bytes (N bytes, 0 or 1) }`.
 */
export interface AnomalyEvaluationSet {
  readonly channels: readonly string[];
  readonly windowSamples: number;
  readonly count: number;
  /** count x windowSamples x channels, time-major within a window. */
  readonly windows: Float32Array;
  readonly labels: Uint8Array;
}

/** At most this many windows (an evaluation set is held in memory while it is scored). */
export const MAX_EVALUATION_WINDOWS = 100_000;
/** At most this many values in all (64 MiB of float32). */
const MAX_EVALUATION_VALUES = 16 * 1024 * 1024;

export function encodeAnomalyEvaluationSet(s: AnomalyEvaluationSet): Uint8Array {
  const windows = new Uint8Array(s.windows.length * 4);
  const view = new DataView(windows.buffer);
  s.windows.forEach((v, i) => view.setFloat32(i * 4, v, true));
  return cborEncode({ format: 'edgewise-evaluation', version: 1, kind: 'anomaly-windows', channels: [...s.channels], windowSamples: s.windowSamples, count: s.count, windows, labels: Uint8Array.from(s.labels) });
}

/** Decodes and checks an evaluation set; a bad one is E_PAYLOAD_INVALID naming the field. */
export function decodeAnomalyEvaluationSet(bytes: Uint8Array): AnomalyEvaluationSet {
  const bad = (what: string): never => {
    throw new ProtocolError('E_PAYLOAD_INVALID', `evaluation set: ${what}`);
  };
  let v: unknown;
  try {
    v = cborDecode(bytes);
  } catch (err) {
    return bad(`not CBOR (${(err as Error).message})`);
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return bad('expected a CBOR map');
  const o = v as Record<string, unknown>;
  if (o['format'] !== 'edgewise-evaluation' || o['version'] !== 1) bad(`format ${JSON.stringify(o['format'])} version ${JSON.stringify(o['version'])}, expected "edgewise-evaluation" version 1`);
  if (o['kind'] !== 'anomaly-windows') bad(`kind ${JSON.stringify(o['kind'])}: this stage evaluates "anomaly-windows" sets`);
  const channels = o['channels'];
  if (!Array.isArray(channels) || channels.length === 0 || channels.length > 256 || !channels.every((c) => typeof c === 'string' && c.length > 0 && c.length <= 128) || new Set(channels).size !== channels.length) bad('channels: expected 1 to 256 distinct channel names');
  const int = (k: string, max: number): number => {
    const x = o[k];
    return typeof x === 'number' && Number.isInteger(x) && x >= 1 && x <= max ? x : bad(`${k}: expected an integer from 1 to ${max}, got ${JSON.stringify(x)}`);
  };
  const windowSamples = int('windowSamples', 100_000);
  const count = int('count', MAX_EVALUATION_WINDOWS);
  const values = count * windowSamples * (channels as string[]).length;
  if (values > MAX_EVALUATION_VALUES) bad(`${values} values in all, at most ${MAX_EVALUATION_VALUES}`);
  const raw = o['windows'];
  if (!(raw instanceof Uint8Array) || raw.length !== values * 4) bad(`windows: expected ${values * 4} bytes (${count} x ${windowSamples} x ${(channels as string[]).length} float32), got ${raw instanceof Uint8Array ? raw.length : typeof raw}`);
  const view = new DataView((raw as Uint8Array).buffer, (raw as Uint8Array).byteOffset, (raw as Uint8Array).byteLength);
  const windows = new Float32Array(values);
  for (let i = 0; i < values; i += 1) {
    const x = view.getFloat32(i * 4, true);
    if (!Number.isFinite(x)) bad(`windows: value ${i} (window ${Math.floor(i / (values / count))}) is not a finite number`);
    windows[i] = x;
  }
  const labels = o['labels'];
  if (!(labels instanceof Uint8Array) || labels.length !== count) bad(`labels: expected ${count} bytes, got ${labels instanceof Uint8Array ? labels.length : typeof labels}`);
  const l = labels as Uint8Array;
  let positives = 0;
  for (let i = 0; i < l.length; i += 1) {
    if (l[i] !== 0 && l[i] !== 1) bad(`labels: label ${i} is ${String(l[i])}, expected 0 (normal) or 1 (anomalous)`);
    positives += l[i] as number;
  }
  if (positives === 0 || positives === count) bad(`labels: ${positives} of ${count} windows are anomalous; an evaluation needs both kinds`);
  return { channels: channels as string[], windowSamples, count, windows, labels: Uint8Array.from(l) };
}
