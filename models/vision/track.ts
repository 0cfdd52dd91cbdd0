import type { Box } from './geometry.js';
import { KalmanBox } from './kalman-box.js';
import type { Detection } from './nms.js';

/** One detection of a track's object. */
export interface Sighting {
  readonly box: Box;
  readonly score: number;
  readonly classId: number;
  readonly tsUs: number;
}

/** A detection as the tracker takes it: `atEdge` when the box touches the frame's edge (it moves the track but is not judged). */
export type TrackedDetection = Detection & { readonly atEdge?: boolean };

/**
 * One object followed across frames: where it is (a Kalman filter on its box), when it was
 * seen, and what it was seen as. Its label is the class with the largest sum of detection
 * scores over its life: a person seen 20 times is a person even if the first box said cat.
 * Sightings whole in the frame decide; sightings cut by the frame's edge (whose class a
 * detector or crop classifier often gets wrong) decide only while there is no whole one.
 */
export class Track {
  readonly kalman: KalmanBox;
  /** The last measured box. */
  box: Box;
  /** First sighting, frame time. */
  readonly firstUs: number;
  /** Last sighting on the tracker's clock, which stands still while the scene does (see IouTracker.hold). */
  lastUs: number;
  /** Last sighting, frame time. */
  seenUs: number;
  hits = 0;
  /** Sightings whole in the frame: only these are judged (a part cut by the frame's edge may hide its defect, or look like one). */
  judged = 0;
  defectHits = 0;
  /** Score-weighted sightings by class: whole ones, and those at the frame's edge. */
  private readonly weights = new Map<number, number>();
  private readonly edgeWeights = new Map<number, number>();
  best: Sighting;
  /** The best sighting of the defect class, if any. */
  bestDefect: Sighting | undefined;
  /** Has had its centre in the zone (an `entered` event was made). */
  entered = false;
  /** Its label when it entered (the `left` event says if that changed). */
  enteredClassId: number | undefined;

  constructor(
    readonly id: number,
    first: TrackedDetection,
    tsUs: number,
  ) {
    this.kalman = new KalmanBox(first.box);
    this.box = first.box;
    this.firstUs = tsUs;
    this.lastUs = tsUs;
    this.seenUs = tsUs;
    this.best = { box: first.box, score: -1, classId: first.classId, tsUs };
  }

  /**
   * The class the track is taken to be: the largest score-weighted count of whole sightings,
   * else of edge ones (ties: the class seen first). Never undefined: a track has a sighting.
   */
  get classId(): number {
    return Track.argmax(this.weights.size > 0 ? this.weights : this.edgeWeights) ?? this.best.classId;
  }

  /** Time from first to last sighting, in µs of frame time. */
  get dwellUs(): number {
    return this.seenUs - this.firstUs;
  }

  private static argmax(m: ReadonlyMap<number, number>): number | undefined {
    let best: number | undefined;
    let w = -Infinity;
    for (const [c, v] of m) {
      if (v > w) {
        best = c;
        w = v;
      }
    }
    return best;
  }

  /**
   * Records a sighting. Returns which of the track's best sightings it became (the caller
   * takes a crop of the frame while it still has it).
   */
  see(det: TrackedDetection, tsUs: number, defectClass: number | undefined): { best: boolean; bestDefect: boolean } {
    this.box = det.box;
    this.lastUs = tsUs;
    this.seenUs = tsUs;
    this.hits += 1;
    // A zero score still votes, a little: a label must come from some sighting.
    const weight = Math.max(det.score, 1e-6);
    if (det.atEdge === true) {
      this.edgeWeights.set(det.classId, (this.edgeWeights.get(det.classId) ?? 0) + weight);
      return { best: false, bestDefect: false };
    }
    this.judged += 1;
    this.weights.set(det.classId, (this.weights.get(det.classId) ?? 0) + weight);
    const sighting = { box: det.box, score: det.score, classId: det.classId, tsUs };
    let best = false;
    let bestDefect = false;
    if (det.score > this.best.score) {
      this.best = sighting;
      best = true;
    }
    if (det.classId === defectClass) {
      this.defectHits += 1;
      if (this.bestDefect === undefined || det.score > this.bestDefect.score) {
        this.bestDefect = sighting;
        bestDefect = true;
      }
    }
    return { best, bestDefect };
  }
}
