import type { VisionEvaluationFrame, VisionEvaluationSet } from '../../fleet/protocol/evaluation-set.js';
import { packedLayout, type RawFrame } from '../../runtime/pipeline/frame.js';
import { matchDetections } from './metrics.js';
import type { SourceDetection } from './vision-model.js';

/** How a detector did on a labelled evaluation set, over all its frames. */
export interface DetectionScore {
  /** Micro-F1: 2 x matched / (labelled boxes + detections), rounded to 1e-6. */
  readonly f1: number;
  readonly frames: number;
  readonly labelled: number;
  readonly detections: number;
  /** Detections matched one-to-one to a labelled box of the same class at IoU >= 0.5. */
  readonly matched: number;
}

/** A set's frame as a camera source hands one to the vision stage (tightly packed planes). */
export function evaluationFrame(f: VisionEvaluationFrame, index: number): RawFrame {
  return { format: f.format, width: f.width, height: f.height, data: f.pixels, layout: packedLayout(f.format, f.width, f.height).layout, timestampUs: index };
}

/**
 * The stage's class id of each of the set's class names: the set names its classes, the stage
 * names the detector's (`classNames`, or `class<N>` without them), and they are matched by name,
 * so a set labelled with the same names fits whatever order either lists them in. Throws naming
 * a class that the set's boxes use and the detector does not have.
 */
export function stageClassIds(set: VisionEvaluationSet, stageClassNames: readonly string[] | undefined): number[] {
  const used = new Set<number>();
  for (const f of set.frames) for (const b of f.boxes) used.add(b.classId);
  return set.classNames.map((name, id) => {
    const k = stageClassNames === undefined ? (/^class(\d+)$/.exec(name)?.[1] ?? undefined) : String(stageClassNames.indexOf(name));
    const stageId = k === undefined ? -1 : Number(k);
    if (stageId < 0 && used.has(id)) {
      throw new Error(`the evaluation set labels boxes "${name}", which is not a class of this stage (${stageClassNames === undefined ? 'it has no classNames, so its classes are class0, class1, ...' : stageClassNames.join(', ')})`);
    }
    return stageId;
  });
}

/**
 * Micro-F1 at IoU 0.5 of a detector on a labelled set: on every frame (no motion gate, no
 * zones: the set is what is judged), its detections are matched to the labelled boxes of the
 * same class, greedily and one-to-one by `matchDetections` (the rule the shadow's agreement
 * uses between two models), detections in descending score each taking the unmatched box of
 * highest IoU. `ended` is asked between frames: a run that is no longer wanted stops (throws).
 */
export async function detectorF1(detect: (frame: RawFrame) => Promise<readonly SourceDetection[]>, set: VisionEvaluationSet, classIds: readonly number[], ended: () => boolean = () => false): Promise<DetectionScore> {
  let labelled = 0;
  let detections = 0;
  let matched = 0;
  for (const [i, f] of set.frames.entries()) {
    if (ended()) throw new Error('the shadow ended before the evaluation set was scored');
    const found = await detect(evaluationFrame(f, i));
    const truth = f.boxes.map((b) => ({ box: { x: b.x, y: b.y, w: b.w, h: b.h }, score: 1, classId: classIds[b.classId] as number }));
    labelled += truth.length;
    detections += found.length;
    // Class by class, so a box is found only by a detection of its class.
    for (const c of new Set([...truth.map((t) => t.classId), ...found.map((d) => d.classId)])) {
      matched += matchDetections(
        truth.filter((t) => t.classId === c),
        found.filter((d) => d.classId === c),
      ).matched;
    }
  }
  const f1 = labelled + detections === 0 ? 1 : (2 * matched) / (labelled + detections);
  return { f1: Math.round(f1 * 1e6) / 1e6, frames: set.frames.length, labelled, detections, matched };
}
