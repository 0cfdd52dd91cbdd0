import type { RawFrame } from '../../../runtime/pipeline/frame.js';
import type { InferenceBackend, LoadOptions, LoadedModel } from '../../engine/engine.js';
import { ModelError } from '../../engine/errors.js';
import type { Box } from '../geometry.js';
import { CROP, CROP_VALUES, cropInput } from './architecture.js';

export interface CropClass {
  readonly classId: number;
  /** Probability of that class. */
  readonly score: number;
}

/**
 * The second stage of a detector + classifier cascade: every detected box of a frame is
 * cropped (aligned to the box), and all crops go through the classifier in one run.
 */
export class CropClassifier {
  private constructor(
    readonly model: LoadedModel,
    private readonly inputName: string,
    private readonly outputName: string,
  ) {}

  static async load(bytes: Uint8Array, backend: InferenceBackend, loadOptions: LoadOptions): Promise<CropClassifier> {
    const model = await backend.load(bytes, loadOptions);
    const input = model.inputs[0];
    const output = model.outputs[0];
    const shape = input?.shape ?? [];
    if (input === undefined || output === undefined || shape.length !== 4 || shape[1] !== 1 || shape[2] !== CROP || shape[3] !== CROP) {
      await model.close();
      throw new ModelError('E_MODEL_INVALID', `crop classifier: expected input [N, 1, ${CROP}, ${CROP}], got [${shape.join(', ')}]`);
    }
    return new CropClassifier(model, input.name, output.name);
  }

  async classify(frame: RawFrame, boxes: readonly Box[]): Promise<CropClass[]> {
    if (boxes.length === 0) return [];
    const x = new Float32Array(boxes.length * CROP_VALUES);
    boxes.forEach((b, i) => cropInput(frame, b, x, i * CROP_VALUES, false));
    const out = (await this.model.run({ [this.inputName]: { data: x, dims: [boxes.length, 1, CROP, CROP] } }))[this.outputName];
    if (out === undefined || out.dims.length !== 2 || out.dims[0] !== boxes.length) throw new ModelError('E_MODEL_OUTPUT', `crop classifier: expected [${boxes.length}, C] probabilities`);
    const classes = out.dims[1] as number;
    return boxes.map((_, i) => {
      let best = 0;
      for (let c = 1; c < classes; c += 1) if ((out.data[i * classes + c] as number) > (out.data[i * classes + best] as number)) best = c;
      return { classId: best, score: out.data[i * classes + best] as number };
    });
  }

  close(): Promise<void> {
    return this.model.close();
  }
}
