import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { CreateEnv } from '../../runtime/pipeline/registry.js';
import { readModelMetadata } from '../onnx/builder.js';
import { CLASSIFIER_CLASSES, DEFECT_CLASS } from './classifier/architecture.js';
import { BUILTIN_CLASSIFIER_PATH, BUILTIN_DETECTOR_PATH, VISION_DEFAULTS } from './defaults.js';
import { CLASS_NAMES } from './detector/architecture.js';
import type { VisionConfig } from './schema.js';
import { namedZones } from './zone-names.js';
import { workerThreadFor, type InferenceThread } from './thread/inference-thread.js';
import { VisionStage, type CascadeClassifier } from './vision-stage.js';

async function readModel(path: string, what: string): Promise<{ bytes: Uint8Array; meta: Record<string, string>; sha256: string }> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (err) {
    throw new Error(`vision: cannot read ${what} ${path}: ${(err as Error).message}`, { cause: err });
  }
  let meta: Record<string, string> = {};
  try {
    meta = readModelMetadata(bytes);
  } catch {
    // Not an ONNX file we can read: the engine says so when it loads it, and the stage reports it.
  }
  return { bytes, meta, sha256: createHash('sha256').update(bytes).digest('hex') };
}

async function loadClassifier(c: { path?: string; classNames?: readonly string[]; name?: string; version?: string }): Promise<CascadeClassifier> {
  const builtin = c.path === undefined;
  const path = builtin ? BUILTIN_CLASSIFIER_PATH() : resolve(c.path as string);
  const { bytes, meta, sha256 } = await readModel(path, 'classifier');
  return {
    bytes,
    classNames: c.classNames ?? (builtin ? [...CLASSIFIER_CLASSES] : (meta['classNames']?.split(',') ?? [])),
    model: { name: c.name ?? meta['name'] ?? path.replace(/^.*\//, ''), version: c.version ?? meta['version'] ?? 'unversioned', hash: `sha256:${sha256}` },
  };
}

/**
 * Builds the vision stage from its (validated, checked) config entry: reads the models and
 * hashes them. `thread`: the inference worker to use instead of a new one (tests, to end it).
 */
export async function createVisionStage(config: VisionConfig, env: CreateEnv, thread?: InferenceThread): Promise<VisionStage> {
  const d = VISION_DEFAULTS;
  const managedName = config.model?.managed;
  if (managedName !== undefined && (config.model?.path !== undefined || env.models === undefined)) {
    throw new Error(env.models === undefined ? `vision: model.managed needs a gateway with signed updates` : 'vision: model.managed and model.path exclude each other');
  }
  const builtin = config.model?.path === undefined && managedName === undefined;
  const path = builtin || managedName !== undefined ? BUILTIN_DETECTOR_PATH() : resolve(config.model?.path as string);
  const { bytes, meta, sha256 } = managedName !== undefined ? { bytes: new Uint8Array(0), meta: {} as Record<string, string>, sha256: '' } : await readModel(path, 'model');
  const classNames = config.classNames ?? (builtin ? [...CLASS_NAMES] : undefined);
  const classifier = builtin || config.classifier !== undefined ? await loadClassifier(config.classifier ?? {}) : undefined;
  const motion = { ...d.motion, ...(config.motion ?? {}) };
  const zones = namedZones(config.zones ?? []);
  return new VisionStage(
    {
      modelBytes: bytes,
      ...(managedName === undefined || env.models === undefined ? {} : { managed: { name: managedName, source: env.models } }),
      classifier,
      modelName: config.model?.name ?? managedName ?? meta['name'] ?? (builtin ? 'defect-detector' : path.replace(/^.*\//, '')),
      modelVersion: config.model?.version ?? meta['version'] ?? 'unversioned',
      backend: env.backend,
      // Left out, each is the gateway's (`inference.providers`, `inference.threads`).
      providers: config.providers,
      threads: config.threads,
      model: {
        ...(config.task === undefined ? {} : { task: config.task }),
        ...(classNames === undefined ? {} : { classNames }),
        ...(config.mean === undefined ? {} : { mean: config.mean }),
        ...(config.std === undefined ? {} : { std: config.std }),
        layout: config.layout ?? 'auto',
        confidence: config.confidence ?? d.confidence,
        iouThreshold: config.iouThreshold ?? d.iouThreshold,
      },
      defectClass: config.defectClass ?? (builtin ? CLASSIFIER_CLASSES[DEFECT_CLASS] : undefined),
      zones,
      motion: motion.enabled ? { width: motion.width, pixelThreshold: motion.pixelThreshold, minShare: motion.minShare, keepAliveMs: motion.keepAliveMs, zones: zones.map((z) => z.polygon) } : undefined,
      tracker: { ...d.tracker, ...(config.tracker ?? {}) },
      cropMaxSize: config.cropMaxSize ?? d.cropMaxSize,
      ...(config.detections === undefined ? {} : { detections: { everyMs: config.detections.everyMs, maxDetections: config.detections.maxDetections ?? d.detectionsMax } }),
      ...(config.zoneCounts === undefined ? {} : { zoneCounts: { everyMs: config.zoneCounts.everyMs } }),
      thread: thread ?? ((config.inferenceThread ?? d.inferenceThread) === 'worker' ? workerThreadFor(env.backend, env.events) : undefined),
    },
    env.decisions,
    env.events,
    sha256,
  );
}
