import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Defaults of the vision stage (the README's table is written from here). */
export const VISION_DEFAULTS = {
  confidence: 0.5,
  iouThreshold: 0.45,
  motion: { enabled: true, width: 64, pixelThreshold: 12, minShare: 0.002, keepAliveMs: 10_000 },
  tracker: { iouThreshold: 0.2, maxAgeMs: 1000, minHits: 2, defectMinHits: 2, defectMinShare: 0.5, maxTracks: 64, classAware: true },
  /** Detections in one `detections` record, when the option does not say. */
  detectionsMax: 20,
  cropMaxSize: 96,
  inferenceThread: 'worker',
} as const;

/** Where the repo's own models live, found from this file whether it runs from source or dist/. */
function builtinModelPath(file: string): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i += 1) {
    if (existsSync(join(dir, 'package.json'))) return join(dir, 'models', 'vision', file.includes('classifier') ? 'classifier' : 'detector', file);
    dir = dirname(dir);
  }
  throw new Error(`cannot find the package root above ${fileURLToPath(import.meta.url)}`);
}

export const BUILTIN_DETECTOR_PATH = (): string => builtinModelPath('defect-detector.onnx');
export const BUILTIN_CLASSIFIER_PATH = (): string => builtinModelPath('defect-classifier.onnx');
