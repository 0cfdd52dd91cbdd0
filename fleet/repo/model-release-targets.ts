import { modelReleaseTarget, parseModelRelease, type ModelRelease } from '../protocol/model-release.js';
import type { TargetInput } from './target-files.js';

/** A model release to publish: the ONNX file, its golden input and output, an optional labelled evaluation set, and the release fields. */
export interface ModelReleaseInput {
  readonly model: string;
  readonly goldenInput: string;
  readonly goldenOutput: string;
  readonly evaluationSet?: string;
  readonly release: Omit<ModelRelease, 'golden' | 'evaluation'> & { golden: Omit<ModelRelease['golden'], 'input' | 'output'> };
}

/**
 * The targets of one release, all under `models/<model>/<release>/` (so one delegation
 * pattern, `models/<model>/*\/*`, covers every file of every release of a model): the model
 * with the release fields in `custom.edgewise`, and the files those fields name. A malformed
 * release is refused here (E_PAYLOAD_INVALID), not by the gateways.
 */
export function modelReleaseTargets(o: ModelReleaseInput): { path: string; files: TargetInput[] } {
  const base = `models/${o.release.model}/${o.release.release}`;
  const release: ModelRelease = { ...o.release, golden: { ...o.release.golden, input: `${base}/golden-input.bin`, output: `${base}/golden-output.bin` }, ...(o.evaluationSet === undefined ? {} : { evaluation: { set: `${base}/evaluation.cbor` } }) };
  const path = modelReleaseTarget(o.release.model, o.release.release);
  parseModelRelease({ edgewise: release }, path);
  return {
    path,
    files: [
      { path, file: o.model, custom: { edgewise: release } },
      { path: release.golden.input, file: o.goldenInput },
      { path: release.golden.output, file: o.goldenOutput },
      ...(o.evaluationSet === undefined || release.evaluation === undefined ? [] : [{ path: release.evaluation.set, file: o.evaluationSet }]),
    ],
  };
}
