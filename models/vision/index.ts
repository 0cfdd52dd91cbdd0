import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineStage, type FileNeed } from '../../runtime/pipeline/registry.js';
import { readModelMetadata } from '../onnx/builder.js';
import { CLASSIFIER_CLASSES, DEFECT_CLASS } from './classifier/architecture.js';
import { CLASS_NAMES } from './detector/architecture.js';
import { visionProblems, visionSchema } from './schema.js';
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

export { VisionStage } from './vision-stage.js';

/** Defaults of the vision stage (the README's table is written from here). */
export const VISION_DEFAULTS = {
  confidence: 0.5,
  iouThreshold: 0.45,
  motion: { enabled: true, width: 64, pixelThreshold: 12, minShare: 0.002, keepAliveMs: 10_000 },
  tracker: { iouThreshold: 0.2, maxAgeMs: 1000, minHits: 2, defectMinHits: 2, defectMinShare: 0.5, maxTracks: 64 },
  cropMaxSize: 96,
  threads: 1,
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

/** A built-in model's path, or undefined when the package root cannot be found (create says so). */
function builtinOrUndefined(path: () => string): string | undefined {
  try {
    return path();
  } catch {
    return undefined;
  }
}

export const visionStagePlugin = defineStage({
  type: 'vision',
  configSchema: visionSchema,
  // Consumes frames and emits events; anything else on its edge goes on as it came.
  flow: { accepts: ['frames'], emits: ['events'], passes: ['samples', 'summaries', 'events'] },
  pathKeys: [
    ['model', 'path'],
    ['classifier', 'path'],
  ],
  check: (config, ctx) => visionProblems(config, ctx),
  files: (config) => {
    const builtin = config.model?.path === undefined && config.model?.managed === undefined;
    const needs: FileNeed[] = [];
    const detector = builtin ? builtinOrUndefined(BUILTIN_DETECTOR_PATH) : config.model?.path;
    if (detector !== undefined && config.model?.managed === undefined) needs.push({ key: ['model', 'path'], file: detector, what: builtin ? 'the built-in defect detector (part of the package)' : 'an ONNX model' });
    const classifier = config.classifier?.path ?? (builtin || config.classifier !== undefined ? builtinOrUndefined(BUILTIN_CLASSIFIER_PATH) : undefined);
    if (classifier !== undefined) needs.push({ key: ['classifier', 'path'], file: classifier, what: config.classifier?.path === undefined ? 'the built-in defect classifier (part of the package)' : 'an ONNX classifier' });
    return needs;
  },
  create: async (config, env) => {
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
    const zones = (config.zones ?? []).map((z) => z.map((p) => [p[0] as number, p[1] as number] as const));
    return new VisionStage(
      {
        modelBytes: bytes,
        ...(managedName === undefined || env.models === undefined ? {} : { managed: { name: managedName, source: env.models } }),
        classifier,
        modelName: config.model?.name ?? managedName ?? meta['name'] ?? (builtin ? 'defect-detector' : path.replace(/^.*\//, '')),
        modelVersion: config.model?.version ?? meta['version'] ?? 'unversioned',
        providers: config.providers ?? ['cpu'],
        threads: config.threads ?? VISION_DEFAULTS.threads,
        model: {
          task: config.task ?? 'detection',
          ...(classNames === undefined ? {} : { classNames }),
          ...(config.mean === undefined ? {} : { mean: config.mean }),
          ...(config.std === undefined ? {} : { std: config.std }),
          layout: config.layout ?? 'auto',
          confidence: config.confidence ?? d.confidence,
          iouThreshold: config.iouThreshold ?? d.iouThreshold,
        },
        defectClass: config.defectClass ?? (builtin ? CLASSIFIER_CLASSES[DEFECT_CLASS] : undefined),
        zones,
        motion: motion.enabled ? { width: motion.width, pixelThreshold: motion.pixelThreshold, minShare: motion.minShare, keepAliveMs: motion.keepAliveMs, zones } : undefined,
        tracker: { ...d.tracker, ...(config.tracker ?? {}) },
        cropMaxSize: config.cropMaxSize ?? d.cropMaxSize,
      },
      env.decisions,
      env.events,
      sha256,
    );
  },
});
