import * as ort from 'onnxruntime-node';
import { seededRandom } from '../fleet/protocol/federated/random-source.js';
import { parseMeta } from '../models/anomaly/autoencoder/model.js';
import type { RgbImage, SensorLog } from '../models/datasets/types.js';
import { OnnxBackend } from '../models/engine/backends/onnxruntime/onnx-backend.js';
import type { VisionInput } from '../models/model-dir/model-card.js';
import { Preprocessor } from '../models/vision/preprocess.js';
import { packedLayout, type RawFrame } from '../runtime/pipeline/frame.js';
import { ModelReleaseError } from './model-release-error.js';

/** The input of a release's golden run, as the gateway's stage would feed the model. */
export interface GoldenInput {
  readonly inputName: string;
  readonly dims: readonly number[];
  readonly data: Float32Array;
  /** Where it came from, for people (`images/val/a.png`, `a synthetic frame`). */
  readonly source: string;
}

/** The golden run: the output onnxruntime gives here, and the tolerance gateways check it with. */
export interface GoldenRun {
  readonly output: Float32Array;
  /** Largest allowed absolute difference per value, as the release's decimal string. */
  readonly tolerance: string;
  /** The largest difference, measured here, between the run and one on other kernels (graph optimisations off, two threads). */
  readonly kernelSpread: number;
}

/**
 * Relative tolerance of the golden output across CPUs. Gateways are x64 and arm64, and ONNX
 * Runtime's MLAS kernels differ between them: FMA (one rounding) against multiply-then-add,
 * other GEMM/convolution blocking (another summation order), their own vectorised
 * approximations of exp, tanh and the logistic function. What such differences cost can be
 * seen on one machine by running the same model through other kernels: with ONNX Runtime's
 * graph optimisations off (no fused Conv+activation, other kernels) the built-in detector's
 * outputs (up to 305) moved by 3.5e-4, about 1e-6 of their scale. 1e-4 of the largest output
 * (at least of 1) is ~100 times that, so an honest run on any CPU passes, and still far below
 * anything that changes a decision: 0.03 px of a box on a 320 px input, 1e-4 of a confidence.
 * A wrong model, a truncated file or another preprocessing is off by far more. A model whose
 * own kernel spread here is larger gets 10 times its spread instead (goldenRun).
 */
export const GOLDEN_RELATIVE_TOLERANCE = 1e-4;
/** The tolerance is at least this many times the spread measured between kernels here. */
export const SPREAD_MARGIN = 10;

/** An RGB image as the RGBA frame a camera source would hand the vision stage (tightly packed). */
export function rgbaFrame(image: RgbImage, timestampUs = 0): RawFrame {
  const { layout, size } = packedLayout('RGBA', image.width, image.height);
  const data = new Uint8Array(size);
  for (let i = 0, j = 0; i < image.width * image.height; i += 1, j += 4) {
    data[j] = image.data[i * 3] as number;
    data[j + 1] = image.data[i * 3 + 1] as number;
    data[j + 2] = image.data[i * 3 + 2] as number;
    data[j + 3] = 255;
  }
  return { format: 'RGBA', width: image.width, height: image.height, data, layout, timestampUs };
}

/**
 * A deterministic picture for the golden run of a model released without its dataset: a
 * gradient with a few seeded rectangles of other brightness and colour, so every part of the
 * network is exercised (a blank frame would leave most activations at their bias).
 */
export function syntheticImage(width: number, height: number, seed = 17): RgbImage {
  const random = seededRandom(seed);
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y += 1) {
    for (let x = 0; x < width; x += 1) {
      const i = (y * width + x) * 3;
      data[i] = Math.round((255 * x) / Math.max(1, width - 1));
      data[i + 1] = Math.round((255 * y) / Math.max(1, height - 1));
      data[i + 2] = 128;
    }
  }
  for (let n = 0; n < 8; n += 1) {
    const w = Math.max(1, Math.round(width * (0.05 + 0.2 * random())));
    const h = Math.max(1, Math.round(height * (0.05 + 0.2 * random())));
    const x0 = Math.floor(random() * (width - w));
    const y0 = Math.floor(random() * (height - h));
    const colour = [random() * 255, random() * 255, random() * 255].map(Math.round);
    for (let y = y0; y < y0 + h; y += 1) for (let x = x0; x < x0 + w; x += 1) data.set(colour, (y * width + x) * 3);
  }
  return { width, height, data };
}

/** A vision model's golden input: `image` (from the evaluation set) letterboxed and normalised by the gateway's own Preprocessor. */
export function visionGoldenInput(input: VisionInput, image: RgbImage | undefined, source: string): GoldenInput {
  const pre = new Preprocessor({ width: input.width, height: input.height, channels: input.channels, mean: input.mean, std: input.std });
  const picture = image ?? syntheticImage(input.width, input.height);
  // The Preprocessor reuses its buffer: the tensor is copied out.
  return { inputName: input.name, dims: pre.dims, data: Float32Array.from(pre.run(rgbaFrame(picture))), source: image === undefined ? 'a synthetic frame (no --data given)' : source };
}

/**
 * An anomaly autoencoder's golden input: one window of `windowSamples` rows of the model's
 * channels, normalised with the model's own mean and std, time-major (what AutoencoderScorer
 * feeds it on the gateway): the first window of normal rows of the logs, else (no logs, or none
 * has a normal window) a deterministic one in the range of standardised data.
 */
export function anomalyGoldenInput(modelBytes: Uint8Array, inputName: string, logs: readonly SensorLog[] | undefined): GoldenInput {
  const meta = parseMeta(modelBytes);
  const w = meta.windowSamples;
  const c = meta.channels.length;
  const dims = [1, w * c];
  for (const log of logs ?? []) {
    const columns = meta.channels.map((name) => log.channels.indexOf(name));
    const missing = meta.channels.filter((_, k) => columns[k] === -1);
    if (missing.length > 0) throw new ModelReleaseError(`${log.file}: no column for the model's channel(s) ${missing.join(', ')} (the log has ${log.channels.join(', ')})`);
    let run = 0;
    for (let row = 0; row < log.rows; row += 1) {
      run = log.labels === null || log.labels[row] === 0 ? run + 1 : 0;
      if (run < w) continue;
      const first = row - w + 1;
      const data = new Float32Array(w * c);
      for (let t = 0; t < w; t += 1) {
        for (let k = 0; k < c; k += 1) {
          const raw = log.values[(first + t) * log.channels.length + (columns[k] as number)] as number;
          data[t * c + k] = (raw - (meta.mean[k] as number)) / (meta.std[k] as number);
        }
      }
      return { inputName, dims, data, source: `${log.file} rows ${first + 1}-${row + 1} (the first window of normal running)` };
    }
  }
  const random = seededRandom(29);
  return { inputName, dims, data: Float32Array.from({ length: w * c }, () => random() * 4 - 2), source: logs === undefined ? 'a synthetic window (no --data given)' : 'a synthetic window (no window of normal running in the logs)' };
}

async function runOn(bytes: Uint8Array, input: GoldenInput, outputName: string): Promise<Float32Array> {
  const model = await new OnnxBackend({ threads: 1 }).load(bytes, { providers: ['cpu'], threads: 1 });
  try {
    const out = (await model.run({ [input.inputName]: { data: input.data, dims: input.dims } }))[outputName];
    if (out === undefined) throw new ModelReleaseError(`the model has no output "${outputName}" (the card's output.name); it has ${model.outputs.map((o) => o.name).join(', ')}`);
    return Float32Array.from(out.data);
  } finally {
    await model.close();
  }
}

/** The same run through other kernels: graph optimisations off (nothing fused), work split over two threads. */
async function runOnOtherKernels(bytes: Uint8Array, input: GoldenInput, outputName: string): Promise<Float32Array> {
  const session = await ort.InferenceSession.create(bytes, { graphOptimizationLevel: 'disabled', intraOpNumThreads: 2, interOpNumThreads: 1 });
  try {
    const out = (await session.run({ [input.inputName]: new ort.Tensor('float32', input.data, [...input.dims]) }))[outputName];
    if (out === undefined || out.type !== 'float32') throw new ModelReleaseError(`the model gives no float32 output "${outputName}" with graph optimisations off`);
    return Float32Array.from(out.data as Float32Array);
  } finally {
    await session.release();
  }
}

/** A tolerance as the release's decimal string, rounded up to two significant digits. */
export function toleranceString(x: number): string {
  const exponent = Math.floor(Math.log10(x)) - 1;
  const rounded = Math.ceil(x / 10 ** exponent) * 10 ** exponent;
  return exponent >= 0 ? String(Math.round(rounded)) : rounded.toFixed(-exponent);
}

/**
 * The golden output, from ONNX Runtime on this machine through the engine the gateway uses
 * (CPU, one thread, as its health check runs it), and its tolerance: GOLDEN_RELATIVE_TOLERANCE
 * of the largest value, or SPREAD_MARGIN times the spread measured against other kernels when
 * that is larger (a model this sensitive to summation order would fail on another CPU).
 */
export async function goldenRun(bytes: Uint8Array, input: GoldenInput, outputName: string): Promise<GoldenRun> {
  const output = await runOn(bytes, input, outputName);
  const other = await runOnOtherKernels(bytes, input, outputName);
  let largest = 0;
  let spread = 0;
  for (let i = 0; i < output.length; i += 1) {
    const v = output[i] as number;
    if (!Number.isFinite(v)) throw new ModelReleaseError(`the model's output ${outputName} has a non-finite value (${v}) at ${i} for its golden input (${input.source})`);
    largest = Math.max(largest, Math.abs(v));
    spread = Math.max(spread, Math.abs(v - (other[i] as number)));
  }
  const tolerance = Math.max(GOLDEN_RELATIVE_TOLERANCE * Math.max(1, largest), SPREAD_MARGIN * spread);
  return { output, tolerance: toleranceString(tolerance), kernelSpread: spread };
}
