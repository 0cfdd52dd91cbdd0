import type { AnomalyEvaluationSet } from '../../../fleet/protocol/evaluation-set.js';
import type { SensorLog } from '../../datasets/types.js';
import type { InferenceBackend } from '../../engine/engine.js';
import { OnnxBackend } from '../../engine/backends/onnxruntime/onnx-backend.js';
import type { ModelCard } from '../../model-dir/model-card.js';
import { parseMeta } from '../autoencoder/model.js';
import { SensorDataError } from './errors.js';
import { checkUnits, sensorInputOf } from './sensor-card.js';
import { abnormalIn, abnormalPrefix, prepareLogs, scoredWindowEnds } from './sensor-windows.js';

/**
 * What `edgewise model release` needs of an anomaly model besides the file: a golden input and
 * output (the updater's health check runs the model on the input and compares) and a labelled
 * evaluation set (the shadow's quality gate, fleet/protocol/evaluation-set.ts), both made from
 * the evaluation logs.
 */
export interface AnomalyReleaseInputs {
  /** The ONNX input `x` for one window: the first normal window of the logs, standardised as the scorer does, float32. */
  readonly goldenInput: Float32Array;
  /** The model's `reconstruction` of it, on this machine's CPU. */
  readonly goldenOutput: Float32Array;
  readonly golden: { readonly inputName: 'x'; readonly outputName: 'reconstruction'; readonly dims: readonly [1, number] };
  /** Windows of pure normal and pure abnormal rows (a fault's edges left out), raw values: encode with encodeAnomalyEvaluationSet. */
  readonly evaluationSet: AnomalyEvaluationSet;
}

export interface ReleaseInputOptions {
  readonly backend?: InferenceBackend;
  /** Windows in the evaluation set at most, half of each kind when there are enough (default 4000: 1.5 MiB for 32 x 3). */
  readonly maxWindows?: number;
}

/** Every k-th of `items` so that at most `max` are kept, spread over the whole list. */
function spread<T>(items: readonly T[], max: number): T[] {
  if (items.length <= max) return [...items];
  return Array.from({ length: max }, (_, i) => items[Math.floor((i * items.length) / max)] as T);
}

export async function anomalyReleaseInputs(card: ModelCard, modelBytes: Uint8Array, logs: readonly SensorLog[], o: ReleaseInputOptions = {}): Promise<AnomalyReleaseInputs> {
  const sensor = sensorInputOf(card, 'model card');
  const meta = parseMeta(modelBytes);
  const w = meta.windowSamples;
  const c = meta.channels.length;
  const prepared = prepareLogs(logs, { channels: meta.channels, rateHz: sensor.rateHz });
  checkUnits(sensor, prepared.channels, prepared.units, logs.map((l) => l.file));
  const normal: Float64Array[] = [];
  const abnormal: Float64Array[] = [];
  for (const s of prepared.segments) {
    const prefix = abnormalPrefix(s);
    for (const end of scoredWindowEnds(s.rows, w, sensor.strideSamples)) {
      const n = abnormalIn(prefix, end, w);
      const window = s.values.subarray((end - w + 1) * c, (end + 1) * c);
      if (n === 0) normal.push(window);
      else if (n === w) abnormal.push(window);
    }
  }
  const first = normal[0];
  if (first === undefined) throw new SensorDataError(`${logs.map((l) => l.file).join(', ')}: no window of ${w} normal rows to make the golden input from`);
  const max = o.maxWindows ?? 4000;
  const keptAbnormal = spread(abnormal, Math.max(max >> 1, max - normal.length));
  const kept = [...spread(normal, max - keptAbnormal.length), ...keptAbnormal];
  const windows = new Float32Array(kept.length * w * c);
  kept.forEach((win, k) => windows.set(win, k * w * c));
  const labels = Uint8Array.from(kept, (_, k) => (k < kept.length - keptAbnormal.length ? 0 : 1));

  const goldenInput = Float32Array.from(first, (v, i) => (v - (meta.mean[i % c] as number)) / (meta.std[i % c] as number));
  const model = await (o.backend ?? new OnnxBackend()).load(modelBytes, { providers: ['cpu'] });
  let goldenOutput: Float32Array;
  try {
    const out = (await model.run({ x: { data: goldenInput, dims: [1, goldenInput.length] } }))['reconstruction'];
    if (out === undefined) throw new Error('the model gave no `reconstruction` output');
    goldenOutput = Float32Array.from(out.data as ArrayLike<number>);
  } finally {
    await model.close();
  }
  return {
    goldenInput,
    goldenOutput,
    golden: { inputName: 'x', outputName: 'reconstruction', dims: [1, goldenInput.length] },
    evaluationSet: { channels: [...meta.channels], windowSamples: w, count: kept.length, windows, labels },
  };
}
