import type { ModelCard } from '../../model-dir/model-card.js';
import { readModelMetadata } from '../../onnx/builder.js';
import { ModelDirError } from '../../model-dir/model-dir.js';
import { SensorDataError } from './errors.js';

/**
 * How a sensor model reads its stream, beyond what AutoencoderMeta says (channels, window,
 * normalisation): the rate it was trained at and the units. It travels twice: in the card
 * (`sensor`, for `model eval` and `model release`) and in the ONNX metadata under
 * SENSOR_METADATA_KEY (so a model's bytes alone say it). The anomaly stage itself reads only
 * AutoencoderMeta: it counts samples, not time, so the stage's source must deliver this rate
 * and its `autoencoder.windowSamples` must be this window (the stage refuses another window).
 */
export interface SensorInput {
  /** Samples a second the model was trained at (the logs' own, or what they were resampled to). */
  readonly rateHz: number;
  /** Per channel (the card's classNames), '' where the logs did not say. */
  readonly units: readonly string[];
  readonly windowSamples: number;
  /** The stage's `autoencoder.strideSamples` this model was evaluated with. */
  readonly strideSamples: number;
  /** windowSamples / rateHz, in ms: how much time one window sees. */
  readonly windowMs: number;
  /** `normal-rows`: trained on rows labelled 0; `all-rows`: the logs had no labels, every row was taken as normal. */
  readonly trainedOn: 'normal-rows' | 'all-rows';
}

/** The card `edgewise model train anomaly` writes: a ModelCard (task anomaly) with its sensor input. */
export type SensorModelCard = ModelCard & { readonly task: 'anomaly'; readonly sensor: SensorInput };

export const SENSOR_METADATA_KEY = 'edgewise.sensor';

const isCount = (x: unknown): x is number => typeof x === 'number' && Number.isInteger(x) && x >= 1;

/** The card's sensor input, checked; ModelDirError (E_MODEL_DIR) naming the card when it is not an anomaly model from CSV logs. */
export function sensorInputOf(card: ModelCard, where: string): SensorInput {
  // A card from disk: readModelDir checks the task, not the output.
  const layout = (card.output as Partial<ModelCard['output']> | undefined)?.layout;
  if (card.task !== 'anomaly' || layout !== 'autoencoder') throw new ModelDirError(`${where}: a ${card.task} model (${String(layout)}); sensor logs evaluate an anomaly autoencoder`);
  const s = (card as Partial<SensorModelCard>).sensor as Partial<SensorInput> | undefined;
  if (s === undefined || typeof s !== 'object') throw new ModelDirError(`${where}: no \`sensor\` section (rate, window); train the model with \`edgewise model train anomaly\``);
  if (typeof s.rateHz !== 'number' || !(s.rateHz > 0) || !isCount(s.windowSamples) || !isCount(s.strideSamples) || !Array.isArray(s.units)) {
    throw new ModelDirError(`${where}: sensor: expected rateHz > 0, windowSamples, strideSamples and units, got ${JSON.stringify(s)}`);
  }
  return s as SensorInput;
}

/** The sensor input carried in a model's ONNX metadata, or null when it has none (a gateway-trained model). */
export function sensorInputOfModel(bytes: Uint8Array): SensorInput | null {
  const raw = readModelMetadata(bytes)[SENSOR_METADATA_KEY];
  if (raw === undefined) return null;
  try {
    return JSON.parse(raw) as SensorInput;
  } catch {
    return null;
  }
}

/**
 * Logs to be scored by a model must be in its units: a temperature in degF fed to a model of
 * degC is a fault on every row. SensorDataError naming the channel, when both say a unit.
 */
export function checkUnits(sensor: SensorInput, channels: readonly string[], units: readonly string[], files: readonly string[]): void {
  channels.forEach((ch, i) => {
    const want = sensor.units[i] ?? '';
    const got = units[i] ?? '';
    if (want !== '' && got !== '' && want !== got) throw new SensorDataError(`${files.join(', ')}: channel "${ch}" is in "${got}", the model was trained on "${want}"; convert the log`);
  });
}
