import { cborDecode, cborEncode } from './cbor.js';
import { ProtocolError } from './errors.js';

/**
 * A labelled evaluation set, shipped with a release as a signed TUF target. In shadow, a gateway
 * scores it with both its active model and the candidate, on its own hardware, and the
 * rollout's quality gate holds the candidate to be no worse on it. The fleet checks a set when
 * a release is staged; the gateway checks it again before scoring it.
 *
 * The file is one CBOR map (RFC 8949), readable with any stock CBOR library, of one of two kinds:
 *
 * - anomaly autoencoders (metric: ROC AUC), windows of raw sensor values, each labelled normal
 *   (0) or anomalous (1):
 *   `{ format: "edgewise-evaluation", version: 1, kind: "anomaly-windows", channels: [names],
 *      windowSamples: W, count: N, windows: bytes (N x W x channels float32 little-endian,
 *      time-major within a window), labels: bytes (N bytes, 0 or 1) }`.
 * - detectors (metric: F1 at IoU 0.5, class must match), decoded camera frames, each with the
 *   boxes of the objects in it (none: a frame where nothing is to be found):
 *   `{ format: "edgewise-evaluation", version: 1, kind: "vision-frames", classNames: [names],
 *      frames: [{ format: "I420" | "NV12" | "RGBA", width, height, pixels: bytes (tightly
 *      packed planes, as the gateway's vision stage receives frames from its camera),
 *      boxes: [{ classId, x, y, w, h }] }] }`, boxes in pixels of that frame (top-left corner
 *   and size), class ids indexing `classNames`.
 */
export type EvaluationSet = { readonly kind: 'anomaly-windows'; readonly set: AnomalyEvaluationSet } | { readonly kind: 'vision-frames'; readonly set: VisionEvaluationSet };

export const EVALUATION_SET_KINDS = ['anomaly-windows', 'vision-frames'] as const;

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

/** Decodes and checks an anomaly evaluation set; a bad one (or one of another kind) is E_PAYLOAD_INVALID naming the field. */
export function decodeAnomalyEvaluationSet(bytes: Uint8Array): AnomalyEvaluationSet {
  const o = header(bytes);
  if (o['kind'] !== 'anomaly-windows') bad(`kind ${show(o['kind'])}: this stage evaluates "anomaly-windows" sets`);
  return anomalyBody(o);
}

function anomalyBody(o: Record<string, unknown>): AnomalyEvaluationSet {
  const channels = o['channels'];
  if (!Array.isArray(channels) || channels.length === 0 || channels.length > 256 || !channels.every((c) => typeof c === 'string' && c.length > 0 && c.length <= 128) || new Set(channels).size !== channels.length) bad('channels: expected 1 to 256 distinct channel names');
  const int = (k: string, max: number): number => {
    const x = o[k];
    return typeof x === 'number' && Number.isInteger(x) && x >= 1 && x <= max ? x : bad(`${k}: expected an integer from 1 to ${max}, got ${show(x)}`);
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

/** A labelled object in an evaluation frame: its class (an index into the set's classNames) and its box in that frame's pixels. */
export interface LabelledBox {
  readonly classId: number;
  readonly x: number;
  readonly y: number;
  readonly w: number;
  readonly h: number;
}

/** The pixel formats of the frames a vision stage receives (see runtime/pipeline/frame.ts), tightly packed. */
export type EvaluationPixelFormat = 'I420' | 'NV12' | 'RGBA';

export interface VisionEvaluationFrame {
  readonly format: EvaluationPixelFormat;
  readonly width: number;
  readonly height: number;
  /** I420: Y (width x height), U, V (each ceil(width/2) x ceil(height/2)); NV12: Y, then interleaved U,V; RGBA: 4 bytes per pixel. No padding. */
  readonly pixels: Uint8Array;
  readonly boxes: readonly LabelledBox[];
}

export interface VisionEvaluationSet {
  /** Class names by class id: the classes of the detector being released. */
  readonly classNames: readonly string[];
  readonly frames: readonly VisionEvaluationFrame[];
}

/** At most this many frames, boxes in a frame and boxes in all. */
export const MAX_EVALUATION_FRAMES = 10_000;
const MAX_BOXES_PER_FRAME = 1000;
const MAX_EVALUATION_BOXES = 100_000;
/** Longest side of a frame, in pixels. */
const MAX_FRAME_SIDE = 8192;
/**
 * Pixel bytes in all: a gateway downloads at most 96 MiB of evaluation set (runtime/updater) and
 * holds it in memory while it scores it; this leaves 8 MiB of that for the boxes and the framing.
 */
export const MAX_EVALUATION_PIXEL_BYTES = 88 * 1024 * 1024;

/** Bytes of a tightly packed frame of this format and size (the same layout as runtime/pipeline/frame.ts packedLayout). */
export function packedFrameBytes(format: EvaluationPixelFormat, width: number, height: number): number {
  const chroma = Math.ceil(width / 2) * Math.ceil(height / 2);
  return format === 'RGBA' ? width * height * 4 : width * height + 2 * chroma;
}

export function encodeVisionEvaluationSet(s: VisionEvaluationSet): Uint8Array {
  return cborEncode({
    format: 'edgewise-evaluation',
    version: 1,
    kind: 'vision-frames',
    classNames: [...s.classNames],
    frames: s.frames.map((f) => ({ format: f.format, width: f.width, height: f.height, pixels: f.pixels, boxes: f.boxes.map((b) => ({ classId: b.classId, x: b.x, y: b.y, w: b.w, h: b.h })) })),
  });
}

/**
 * Decodes and checks a vision evaluation set; a bad one (or one of another kind) is
 * E_PAYLOAD_INVALID naming the field and where (`frames[3].boxes[1].w: must be > 0, got 0`).
 * The frames' pixels may share the memory of `bytes` (a set is large; it is not copied).
 */
export function decodeVisionEvaluationSet(bytes: Uint8Array): VisionEvaluationSet {
  const o = header(bytes);
  if (o['kind'] !== 'vision-frames') bad(`kind ${show(o['kind'])}: this stage evaluates "vision-frames" sets`);
  return visionBody(o);
}

/** Decodes and checks an evaluation set of either kind (what the fleet does when a release is staged). */
export function decodeEvaluationSet(bytes: Uint8Array): EvaluationSet {
  const o = header(bytes);
  if (o['kind'] === 'anomaly-windows') return { kind: 'anomaly-windows', set: anomalyBody(o) };
  if (o['kind'] === 'vision-frames') return { kind: 'vision-frames', set: visionBody(o) };
  return bad(`kind ${show(o['kind'])}: expected one of ${EVALUATION_SET_KINDS.map((k) => `"${k}"`).join(', ')}`);
}

function visionBody(o: Record<string, unknown>): VisionEvaluationSet {
  const classNames = o['classNames'];
  if (!Array.isArray(classNames) || classNames.length === 0 || classNames.length > 1000 || !classNames.every((c) => typeof c === 'string' && c.length > 0 && c.length <= 64) || new Set(classNames).size !== classNames.length) {
    bad('classNames: expected 1 to 1000 distinct class names of 1 to 64 characters');
  }
  const classes = (classNames as string[]).length;
  const list = o['frames'];
  if (!Array.isArray(list) || list.length === 0 || list.length > MAX_EVALUATION_FRAMES) bad(`frames: expected an array of 1 to ${MAX_EVALUATION_FRAMES} frames, got ${Array.isArray(list) ? `${list.length}` : typeof list}`);
  const frames: VisionEvaluationFrame[] = [];
  let pixelBytes = 0;
  let boxCount = 0;
  (list as unknown[]).forEach((raw, i) => {
    const at = `frames[${i}]`;
    const f = map(raw, at);
    const format = f['format'];
    if (format !== 'I420' && format !== 'NV12' && format !== 'RGBA') bad(`${at}.format: expected "I420", "NV12" or "RGBA", got ${show(format)}`);
    const side = (k: 'width' | 'height'): number => {
      const x = f[k];
      return typeof x === 'number' && Number.isInteger(x) && x >= 1 && x <= MAX_FRAME_SIDE ? x : bad(`${at}.${k}: expected an integer from 1 to ${MAX_FRAME_SIDE}, got ${show(x)}`);
    };
    const width = side('width');
    const height = side('height');
    const size = packedFrameBytes(format as EvaluationPixelFormat, width, height);
    pixelBytes += size;
    if (pixelBytes > MAX_EVALUATION_PIXEL_BYTES) bad(`${at}: the frames up to this one hold ${pixelBytes} bytes of pixels, at most ${MAX_EVALUATION_PIXEL_BYTES} in all`);
    const pixels = f['pixels'];
    if (!(pixels instanceof Uint8Array) || pixels.length !== size) bad(`${at}.pixels: expected ${size} bytes (${String(format)} ${width}x${height}, tightly packed), got ${pixels instanceof Uint8Array ? pixels.length : typeof pixels}`);
    const rawBoxes = f['boxes'];
    if (!Array.isArray(rawBoxes) || rawBoxes.length > MAX_BOXES_PER_FRAME) bad(`${at}.boxes: expected an array of at most ${MAX_BOXES_PER_FRAME} boxes, got ${Array.isArray(rawBoxes) ? `${rawBoxes.length}` : typeof rawBoxes}`);
    boxCount += (rawBoxes as unknown[]).length;
    if (boxCount > MAX_EVALUATION_BOXES) bad(`${at}.boxes: ${boxCount} boxes in the frames up to this one, at most ${MAX_EVALUATION_BOXES} in all`);
    const boxes = (rawBoxes as unknown[]).map((rb, j): LabelledBox => {
      const bat = `${at}.boxes[${j}]`;
      const b = map(rb, bat);
      const classId = b['classId'];
      if (typeof classId !== 'number' || !Number.isInteger(classId) || classId < 0 || classId >= classes) bad(`${bat}.classId: expected an integer from 0 to ${classes - 1} (an index into classNames), got ${show(classId)}`);
      const num = (k: 'x' | 'y' | 'w' | 'h'): number => {
        const x = b[k];
        if (typeof x !== 'number' || !Number.isFinite(x)) bad(`${bat}.${k}: expected a finite number of pixels, got ${show(x)}`);
        if ((k === 'x' || k === 'y') && (x as number) < 0) bad(`${bat}.${k}: must be >= 0, got ${String(x)}`);
        if ((k === 'w' || k === 'h') && !((x as number) > 0)) bad(`${bat}.${k}: must be > 0, got ${String(x)}`);
        return x as number;
      };
      const box = { classId: classId as number, x: num('x'), y: num('y'), w: num('w'), h: num('h') };
      if (box.x + box.w > width) bad(`${bat}: x + w is ${box.x + box.w}, past the frame's width ${width}`);
      if (box.y + box.h > height) bad(`${bat}: y + h is ${box.y + box.h}, past the frame's height ${height}`);
      return box;
    });
    frames.push({ format: format as EvaluationPixelFormat, width, height, pixels: pixels as Uint8Array, boxes });
  });
  // Without a single object to find, a model that finds nothing would score as well as any.
  if (boxCount === 0) bad('frames: no frame has a labelled box; an evaluation needs objects to find');
  return { classNames: classNames as string[], frames };
}

/** A value as an error message shows it: short, whatever it is. */
function show(x: unknown): string {
  if (x instanceof Uint8Array) return `${x.length} bytes`;
  if (typeof x === 'number') return String(x);
  const s = JSON.stringify(x) ?? String(x);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

const bad = (what: string): never => {
  throw new ProtocolError('E_PAYLOAD_INVALID', `evaluation set: ${what}`);
};

function map(v: unknown, at: string): Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Uint8Array) ? (v as Record<string, unknown>) : bad(`${at}: expected a CBOR map`);
}

/** The CBOR map of a set, its format and version checked. */
function header(bytes: Uint8Array): Record<string, unknown> {
  let v: unknown;
  try {
    v = cborDecode(bytes);
  } catch (err) {
    return bad(`not CBOR (${(err as Error).message})`);
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return bad('expected a CBOR map');
  const o = v as Record<string, unknown>;
  if (o['format'] !== 'edgewise-evaluation' || o['version'] !== 1) bad(`format ${show(o['format'])} version ${show(o['version'])}, expected "edgewise-evaluation" version 1`);
  return o;
}
