import { assign } from './assignment.js';
import { centre, insideZone, iou, type Zone } from './geometry.js';
import type { BoxPrediction } from './kalman-box.js';
import { Track, type TrackedDetection } from './track.js';

export { Track, type Sighting, type TrackedDetection } from './track.js';

/** An unmatched detection overlapping a track of its kind this much is a duplicate of its object, not a new one. */
const DUPLICATE_IOU = 0.1;
/**
 * A detection may continue a track it does not overlap enough when its centre is this close
 * to the predicted one (squared Mahalanobis distance, 2 degrees of freedom: 99% of the
 * predicted spread): an object that moved further than its box in a frame, or came out from
 * behind another, is still followed.
 */
const GATE_CHI2 = 9.21;
/** Weight of the distance from the prediction in a pair's cost, beside 1 - IoU (both up to 1). */
const MOTION_WEIGHT = 0.5;
/** Extra cost of a pair whose classes differ but may match (the defect class, or classAware: false): the same class wins a tie. */
const CLASS_MISMATCH_COST = 0.25;

export interface TrackerOptions {
  /** A detection continues a track when it overlaps the track's predicted box by at least this IoU (or is near its predicted centre). */
  readonly iouThreshold: number;
  /** A track not seen for this long has ended. */
  readonly maxAgeMs: number;
  /** Detections a track needs before it counts (one stray detection is no part). */
  readonly minHits: number;
  /** Where "entered" is judged (source pixels); none: the whole frame. */
  readonly zone: Zone | undefined;
  /** The class that means "defective"; its detections on a track make a defect event. */
  readonly defectClass: number | undefined;
  /** Detections of the defect class a track needs before it is reported defective... */
  readonly defectMinHits: number;
  /** ...and the share of its sightings they must be (a good part seen 40 times may look defective in one or two). */
  readonly defectMinShare: number;
  /** Tracks kept at most (the oldest are ended first when more appear). */
  readonly maxTracks: number;
  /**
   * A detection continues only a track of its own class (default). The defect class is a state
   * of any object, not an object of its own: it continues a track of any class, and any class
   * continues a track labelled defective. false: any detection may continue any track (a
   * detector whose classes flicker, e.g. good/defective part without a defectClass).
   */
  readonly classAware?: boolean;
}

export type TrackEvent =
  /** The track's centre is in the zone for the first time; `classId` is its label now. */
  | { readonly type: 'entered'; readonly track: Track; readonly tsUs: number; readonly classId: number }
  /**
   * A track (of at least minHits sightings) ended: unseen for maxAgeMs, pushed out by
   * maxTracks, or the stream stopped. `classId` is its final label; `enteredClassId` its
   * label at `entered` (undefined: it never entered the zone); `defective` as defectMinHits
   * and defectMinShare say.
   */
  | { readonly type: 'left'; readonly track: Track; readonly tsUs: number; readonly classId: number; readonly enteredClassId: number | undefined; readonly defective: boolean };

export interface TrackUpdate {
  readonly events: TrackEvent[];
  /** Tracks whose best defect sighting is from this frame (take its crop now: the frame is gone after). */
  readonly newBestDefect: Track[];
  /** Tracks whose best sighting (any class) is from this frame. */
  readonly newBest: Track[];
  /** For each detection (same order), the id of the track it went to; undefined: dropped (a duplicate, or not a finite box). */
  readonly trackIds: (number | undefined)[];
}

/**
 * Detections to tracks, frame by frame. Each track's box is predicted by a constant-velocity
 * Kalman filter; detections are assigned to tracks optimally (Hungarian method) on a cost of
 * 1 - IoU with the predicted box plus the distance from the predicted centre, where a pair is
 * allowed only when it overlaps by iouThreshold or lies within the predicted spread, and (by
 * default) only between detections and tracks of one class. So two objects that cross keep
 * their tracks, one hidden for a few frames behind the other is found again where it was
 * going, and a cat seen once where a person stands does not become the person's track.
 * Unmatched detections start tracks; tracks unseen for maxAgeMs end.
 */
export class IouTracker {
  private readonly tracks: Track[] = [];
  private nextId = 1;
  private lastFrameUs: number | undefined;

  constructor(readonly o: TrackerOptions) {}

  get active(): readonly Track[] {
    return this.tracks;
  }

  /**
   * A frame in which nothing moved (the motion gate held it back): the tracks are where they
   * were, so the time does not count towards their age or their motion. Without this a belt
   * that stands for longer than maxAgeMs would end every track and count each part twice.
   */
  hold(tsUs: number): void {
    if (this.lastFrameUs !== undefined && tsUs > this.lastFrameUs) {
      const dt = tsUs - this.lastFrameUs;
      for (const t of this.tracks) t.lastUs += dt;
    }
    this.lastFrameUs = tsUs;
  }

  /** May a detection of class `det` continue a track labelled `track`? */
  private compatible(track: number, det: number): boolean {
    return this.o.classAware === false || track === det || track === this.o.defectClass || det === this.o.defectClass;
  }

  /** The cost of continuing a track with a detection, or undefined when the pair is not allowed. */
  private cost(label: number, p: BoxPrediction, det: TrackedDetection): number | undefined {
    if (!this.compatible(label, det.classId)) return undefined;
    const overlap = iou(p.box, det.box);
    const c = centre(det.box);
    const pc = centre(p.box);
    const d2 = (c.x - pc.x) ** 2 / p.varX + (c.y - pc.y) ** 2 / p.varY;
    if (overlap < this.o.iouThreshold && !(d2 <= GATE_CHI2)) return undefined;
    return 1 - overlap + MOTION_WEIGHT * Math.min(1, d2 / GATE_CHI2) + (label === det.classId ? 0 : CLASS_MISMATCH_COST);
  }

  update(detections: readonly TrackedDetection[], tsUs: number): TrackUpdate {
    this.lastFrameUs = tsUs;
    const events: TrackEvent[] = [];
    const newBest: Track[] = [];
    const newBestDefect: Track[] = [];
    const trackIds = new Array<number | undefined>(detections.length).fill(undefined);
    const see = (t: Track, d: number): void => {
      const det = detections[d] as TrackedDetection;
      const dt = (tsUs - t.lastUs) / 1e6;
      if (t.hits > 0) t.kalman.update(det.box, dt);
      const got = t.see(det, tsUs, this.o.defectClass);
      if (got.best) newBest.push(t);
      if (got.bestDefect) newBestDefect.push(t);
      trackIds[d] = t.id;
    };

    // A box that is not a number (a broken model output) would poison a track's filter: it is left out.
    const usable = detections.map((d) => [d.box.x, d.box.y, d.box.w, d.box.h, d.score].every(Number.isFinite));
    const predicted = this.tracks.map((t) => t.kalman.predict((tsUs - t.lastUs) / 1e6));
    const labels = this.tracks.map((t) => t.classId);
    const pairs = assign(this.tracks.length, detections.length, (i, d) => (usable[d] === true ? this.cost(labels[i] as number, predicted[i] as BoxPrediction, detections[d] as TrackedDetection) : undefined));
    for (const [i, d] of pairs) see(this.tracks[i] as Track, d);

    detections.forEach((det, d) => {
      if (trackIds[d] !== undefined || usable[d] !== true) return;
      // A second box on an object that already has a track is not a new object (a cat on the person's box is).
      const duplicate = this.tracks.some((t, i) => this.compatible(t.classId, det.classId) && (iou(predicted[i]?.box ?? t.box, det.box) >= DUPLICATE_IOU || iou(t.box, det.box) >= DUPLICATE_IOU));
      if (duplicate) return;
      const t = new Track(this.nextId, det, tsUs);
      this.nextId += 1;
      this.tracks.push(t);
      see(t, d);
    });

    for (const t of this.tracks) {
      if (t.entered || t.hits < this.o.minHits || t.lastUs !== tsUs) continue;
      const c = centre(t.box);
      if (this.o.zone === undefined || insideZone(this.o.zone, c.x, c.y)) {
        t.entered = true;
        t.enteredClassId = t.classId;
        events.push({ type: 'entered', track: t, tsUs, classId: t.classId });
      }
    }
    // End what was not seen for maxAgeMs, and the oldest beyond maxTracks.
    for (let i = this.tracks.length - 1; i >= 0; i -= 1) {
      const t = this.tracks[i] as Track;
      if (tsUs - t.lastUs > this.o.maxAgeMs * 1000) this.end(i, tsUs, events);
    }
    while (this.tracks.length > this.o.maxTracks) this.end(0, tsUs, events);
    return { events, newBest, newBestDefect, trackIds };
  }

  /** Ends every track (the stream stopped). */
  flush(tsUs: number): TrackEvent[] {
    const events: TrackEvent[] = [];
    while (this.tracks.length > 0) this.end(this.tracks.length - 1, tsUs, events);
    return events;
  }

  private end(i: number, tsUs: number, events: TrackEvent[]): void {
    const [t] = this.tracks.splice(i, 1);
    if (t === undefined || t.hits < this.o.minHits) return;
    const defective = this.o.defectClass !== undefined && t.defectHits >= this.o.defectMinHits && t.defectHits >= this.o.defectMinShare * t.judged;
    events.push({ type: 'left', track: t, tsUs, classId: t.classId, enteredClassId: t.enteredClassId, defective });
  }
}
