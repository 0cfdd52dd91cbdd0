import { defineStage, type FileNeed } from '../../runtime/pipeline/registry.js';
import { BUILTIN_CLASSIFIER_PATH, BUILTIN_DETECTOR_PATH } from './defaults.js';
import { visionProblems, visionSchema } from './schema.js';

export { BUILTIN_CLASSIFIER_PATH, BUILTIN_DETECTOR_PATH, VISION_DEFAULTS } from './defaults.js';
// The stage (vision-stage.ts, stage-factory.ts: ONNX models, the tracker, the classifier) is
// imported by `create` only: a gateway without vision stages never loads it (memory bench,
// README). Import `VisionStage` from vision-stage.js.

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
  providerKeys: [['providers']],
  check: (config, ctx) => visionProblems(config, ctx),
  files: (config) => {
    const builtin = config.model?.path === undefined && config.model?.managed === undefined;
    const cascade = builtin || config.classifier !== undefined;
    const needs: FileNeed[] = [];
    // The models' contents are checked too (inputs, which decoder reads the outputs, class counts): from their bytes, nothing runs.
    const check = (): Promise<typeof import('./model-check.js')> => import('./model-check.js');
    const detector = builtin ? builtinOrUndefined(BUILTIN_DETECTOR_PATH) : config.model?.path;
    if (detector !== undefined && config.model?.managed === undefined) {
      const reading = { task: config.task, layout: config.layout, classNames: config.classNames, defectClass: cascade ? undefined : config.defectClass };
      needs.push({
        key: ['model', 'path'],
        file: detector,
        what: builtin ? 'the built-in defect detector (part of the package)' : 'an ONNX model',
        inspect: async (bytes) => (await check()).visionModelProblems(bytes, detector, reading),
      });
    }
    const classifier = config.classifier?.path ?? (cascade ? builtinOrUndefined(BUILTIN_CLASSIFIER_PATH) : undefined);
    if (classifier !== undefined) {
      const names = { classNames: config.classifier?.classNames, defectClass: config.defectClass };
      needs.push({
        key: ['classifier', 'path'],
        file: classifier,
        what: config.classifier?.path === undefined ? 'the built-in defect classifier (part of the package)' : 'an ONNX classifier',
        inspect: async (bytes) => (await check()).classifierProblems(bytes, classifier, names),
      });
    }
    return needs;
  },
  create: async (config, env) => (await import('./stage-factory.js')).createVisionStage(config, env),
});
