import type { ClassificationMetrics } from './classification-metrics.js';
import type { DetectionMetrics } from './detection-metrics.js';
import type { Thumbnail } from './thumbnail.js';

/** One mistake shown in the report: the image (a region of it around the mistake, for detection) and what went wrong. */
export interface GalleryItem {
  /** The image file, relative to the dataset's folder when inside it. */
  readonly file: string;
  readonly caption: string;
  /** Null when the image could not be read again for its thumbnail (the caption still says what it was). */
  readonly thumbnail: Thumbnail | null;
}

/** What the model and the data were, for the report's header and the JSON files. */
export interface EvalContext {
  readonly modelDir?: string;
  readonly architecture: string;
  /** sha256 of model.onnx (hex). */
  readonly sha256: string;
  readonly classNames: readonly string[];
  readonly datasetRoot: string;
  readonly split: 'train' | 'val';
  /** Mean inference time per image on this machine (preprocessing excluded), ms. */
  readonly inferenceMsMean: number;
  readonly seconds: number;
  /** Things worth knowing that did not stop the evaluation (a model without class names in its metadata). */
  readonly notes: readonly string[];
  /** ISO time the evaluation finished. */
  readonly finishedAt: string;
}

export interface DetectionEvaluation {
  readonly task: 'detect';
  readonly context: EvalContext;
  readonly metrics: DetectionMetrics;
  /** The highest-scoring detections on nothing of their class, highest first. */
  readonly falsePositives: readonly GalleryItem[];
  /** Truths not found at the operating threshold, least seen first (lowest score of a detection of their class on them). */
  readonly missed: readonly GalleryItem[];
}

export interface ClassificationEvaluation {
  readonly task: 'classify';
  readonly context: EvalContext;
  readonly metrics: ClassificationMetrics;
  /** Wrong answers, the most confident first. */
  readonly confidentWrong: readonly GalleryItem[];
  /** Wrong answers, the lowest probability given to the true class first. */
  readonly leastSure: readonly GalleryItem[];
}

export type VisionEvaluation = DetectionEvaluation | ClassificationEvaluation;
