/**
 * What `edgewise model` reads from a plant's own data, once parsed and checked
 * (models/datasets/ reads the folders; trainers and the evaluator only see these types).
 * Images are decoded lazily: a dataset of a few thousand photos does not fit in memory
 * decoded, so a trainer decodes what it needs and keeps its own bounded, resized copies.
 */

/** A decoded image: RGB, 8 bits a channel, interleaved, row-major. */
export interface RgbImage {
  readonly width: number;
  readonly height: number;
  /** width * height * 3 bytes. */
  readonly data: Uint8Array;
}

/** One labelled object, YOLO style: centre and size normalised to the image (0..1). */
export interface LabelledBox {
  readonly classId: number;
  readonly cx: number;
  readonly cy: number;
  readonly w: number;
  readonly h: number;
}

export interface DetectionSample {
  /** The image file, as found (for error messages and the report's gallery). */
  readonly file: string;
  readonly boxes: readonly LabelledBox[];
  load(): Promise<RgbImage>;
}

export interface ClassificationSample {
  readonly file: string;
  readonly classId: number;
  load(): Promise<RgbImage>;
}

export interface DetectionDataset {
  readonly task: 'detect';
  /** The dataset's folder. */
  readonly root: string;
  /** By class id, from data.yaml. */
  readonly classNames: readonly string[];
  readonly train: readonly DetectionSample[];
  readonly val: readonly DetectionSample[];
}

export interface ClassificationDataset {
  readonly task: 'classify';
  readonly root: string;
  /** By class id: the class folders' names, sorted. */
  readonly classNames: readonly string[];
  readonly train: readonly ClassificationSample[];
  readonly val: readonly ClassificationSample[];
}

export type VisionDataset = DetectionDataset | ClassificationDataset;

/**
 * A sensor log: rows of one timestamp and C channels, in time order, with the channels' units
 * and, when the log has them, labels (1: abnormal) per row for evaluation.
 */
export interface SensorLog {
  readonly file: string;
  readonly channels: readonly string[];
  /** Per channel, '' when the log does not say. */
  readonly units: readonly string[];
  /** Milliseconds since the epoch, one per row. */
  readonly timestampsMs: Float64Array;
  /** rows * channels values, row-major. */
  readonly values: Float64Array;
  readonly rows: number;
  /** One per row (0 normal, 1 abnormal), or null: unlabelled. */
  readonly labels: Uint8Array | null;
}
