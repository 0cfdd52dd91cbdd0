/**
 * A trained model as `edgewise model train` leaves it: a folder (MODEL_DIR) holding
 *   model.onnx        the model, class names in its metadata (`classNames`, comma-separated:
 *                     what the vision stage reads, models/vision/class-names.ts)
 *   model.json        this card: what the model is, how to feed it, how it was made
 *   checkpoint/       the trainer's state after its last finished epoch (resume), removed
 *                     when training ends
 * `model eval` and `model release` read the card, never the trainer's code: a card is the
 * contract between training and everything after it.
 */
export type ModelTask = 'detect' | 'classify' | 'anomaly';

export interface VisionInput {
  /** The ONNX input's name and NCHW size. */
  readonly name: string;
  readonly width: number;
  readonly height: number;
  /** 1: grey (luma), 3: RGB. */
  readonly channels: 1 | 3;
  /** On 0..1 values: (v - mean) / std, per channel (what the vision stage's `mean`/`std` take). */
  readonly mean: readonly number[];
  readonly std: readonly number[];
}

export interface ModelCard {
  readonly format: 'edgewise-model';
  readonly version: 1;
  readonly task: ModelTask;
  /** The architecture, by a name the trainer knows (e.g. `small-detector-s8`). */
  readonly architecture: string;
  /** By class id (vision); channel names for anomaly. */
  readonly classNames: readonly string[];
  /** Vision models: how a frame becomes the input. Absent for anomaly. */
  readonly input?: VisionInput;
  /** The ONNX output the vision stage decodes, and its layout (models/vision/decoders). */
  readonly output: { readonly name: string; readonly layout: 'yolov8' | 'classification' | 'autoencoder' };
  /** Suggested operating point: detection confidence, or the anomaly score threshold. */
  readonly threshold: number;
  readonly training: {
    readonly dataset: string;
    readonly trainSamples: number;
    readonly valSamples: number;
    readonly epochs: number;
    readonly seed: number;
    /** Mean training loss per finished epoch. */
    readonly losses: readonly number[];
    readonly seconds: number;
    /** ISO time the training finished. */
    readonly finishedAt: string;
  };
}

export const MODEL_FILE = 'model.onnx';
export const CARD_FILE = 'model.json';
export const CHECKPOINT_DIR = 'checkpoint';

/** What a trainer reports as it goes (the CLI turns it into a bar on a TTY, lines otherwise). */
export interface TrainingProgress {
  /** 1-based epoch, and the epochs in all (after a resume: the epochs still to run count from the checkpoint). */
  readonly epoch: number;
  readonly epochs: number;
  /** Mini-batches done in this epoch, of `steps`. */
  readonly step: number;
  readonly steps: number;
  /** Mean loss so far in this epoch. */
  readonly loss: number;
}

export type OnTrainingProgress = (p: TrainingProgress) => void;
