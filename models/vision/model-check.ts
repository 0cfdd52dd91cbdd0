import type { PluginProblem } from '../../runtime/pipeline/registry.js';
import { readModelInfo, type ModelInfo } from '../onnx/model-info.js';
import { CROP } from './classifier/architecture.js';
import { readingOf, visionInput, type ReadingOptions } from './model-plan.js';

/**
 * What `edgewise --check` (and every start, before anything loads) can tell of the vision
 * stage's model files from their bytes alone, without a runtime: the detector's input, which
 * decoder reads its outputs and how many classes it has against classNames, the cascade
 * classifier's class count, and whether defectClass is one of the class names.
 */

const READS = 'yolov8 [1, 4+C, N], yolov5 [1, N, 5+C], ssd scores [1, N, 1+C] + boxes [1, N, 4], classification [1, C]';

function info(bytes: Uint8Array, file: string, key: readonly string[], what: string): ModelInfo | PluginProblem {
  try {
    return readModelInfo(bytes);
  } catch (err) {
    return { path: key, expected: what, got: `${JSON.stringify(file)}, which does not parse as an ONNX model (${(err as Error).message})` };
  }
}

function defectClassProblems(defectClass: string | undefined, names: readonly string[] | undefined, from: string): PluginProblem[] {
  if (defectClass === undefined) return [];
  if (names === undefined) return [{ path: ['defectClass'], expected: `class names to find it in (classNames, or names in the model's metadata)`, got: `none (${from} has neither)` }];
  if (names.includes(defectClass)) return [];
  return [{ path: ['defectClass'], expected: `one of the class names of ${from} (${names.join(', ')})`, got: JSON.stringify(defectClass) }];
}

/** The detector (or whole-frame classifier) of a vision stage. `defectClass` only when no cascade classifier names the classes. */
export function visionModelProblems(bytes: Uint8Array, file: string, o: ReadingOptions & { readonly defectClass?: string | undefined }): PluginProblem[] {
  const key = ['model', 'path'];
  const model = info(bytes, file, key, 'an ONNX model');
  if (!('outputs' in model)) return [model];
  const problems: PluginProblem[] = [];
  const input = visionInput(model.inputs);
  if ('expected' in input) problems.push({ path: key, expected: `a vision model with ${input.expected}`, got: `${JSON.stringify(file)}, whose inputs are ${input.got}` });
  const reading = readingOf(model.outputs, model.metadata, o);
  if (reading.ok === 'undetermined') return problems;
  if (reading.ok === false) {
    if (reading.key === 'model') problems.push({ path: key, expected: `a model whose outputs a vision decoder reads (${READS})`, got: `${JSON.stringify(file)}, whose ${reading.reason}` });
    else if (reading.key === 'classNames') problems.push({ path: ['classNames'], expected: 'one name per class of the model', got: `${reading.reason.replace(/^classNames has /, '')}, in ${JSON.stringify(file)}` });
    else problems.push({ path: [reading.key], expected: `a ${reading.key} that says how to read ${JSON.stringify(file)}`, got: reading.reason });
    return problems;
  }
  return [...problems, ...defectClassProblems(o.defectClass, reading.classNames, JSON.stringify(file))];
}

/** The cascade's crop classifier: `[N, 1, 32, 32]` in, `[N, C]` out, C = its class names, which must hold defectClass. */
export function classifierProblems(bytes: Uint8Array, file: string, o: { readonly classNames: readonly string[] | undefined; readonly defectClass: string | undefined }): PluginProblem[] {
  const key = ['classifier', 'path'];
  const model = info(bytes, file, key, 'an ONNX classifier');
  if (!('outputs' in model)) return [model];
  const input = model.inputs[0]?.shape ?? [];
  const out = model.outputs[0]?.shape ?? [];
  const problems: PluginProblem[] = [];
  if (model.inputs.length !== 1 || input.length !== 4 || input[1] !== 1 || input[2] !== CROP || input[3] !== CROP) problems.push({ path: key, expected: `a crop classifier with one input [N, 1, ${CROP}, ${CROP}]`, got: `${JSON.stringify(file)}, whose inputs are ${model.inputs.map((i) => `${i.name} [${i.shape.join(', ')}]`).join(', ')}` });
  if (model.outputs.length !== 1 || out.length !== 2) {
    problems.push({ path: key, expected: 'a crop classifier with one output [N, C]', got: `${JSON.stringify(file)}, whose outputs are ${model.outputs.map((x) => `${x.name} [${x.shape.join(', ')}]`).join(', ')}` });
    return problems;
  }
  const names = o.classNames ?? model.metadata['classNames']?.split(',');
  const classes = out[1];
  if (names !== undefined && typeof classes === 'number' && names.length !== classes) {
    problems.push({ path: ['classifier', 'classNames'], expected: 'one name per class of the classifier', got: `${names.length} name${names.length === 1 ? '' : 's'}, ${JSON.stringify(file)} has ${classes} classes` });
  }
  return [...problems, ...defectClassProblems(o.defectClass, names, JSON.stringify(file))];
}
