import { centre, insideZone, iou, type Box, type Zone } from './geometry.js';
import type { Detection } from './nms.js';

/** An unmatched detection overlapping a track this much is a duplicate of its part, not a new one. */
const DUPLICATE_IOU = 0.1;

export interface TrackerOptions {
  /** A detection continues a track when it overlaps the track's predicted box by at least this IoU. */
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
}

export interface BestSighting {
  readonly box: Box;
  readonly score: number;
  readonly classId: number;
  readonly tsUs: number;
}

export interface Track {
  readonly id: number;
  box: Box;
  /** Pixels per microsecond, from the last two sightings (a belt moves steadily). */
  vx: number;
  vy: number;
  firstUs: number;
  /** Last sighting on the tracker's clock, which stands still while the scene does (see `hold`). */
  lastUs: number;
  /** Last sighting, frame time. */
  seenUs: number;
  hits: number;
  /** Sightings whole in the frame: only these are judged (a part cut by the frame's edge may hide its defect, or look like one). */
  judged: number;
  defectHits: number;
  readonly classHits: Map<number, number>;
  best: BestSighting;
  /** The best sighting of the defect class, if any. */
  bestDefect: BestSighting | undefined;
  entered: boolean;
}

export type TrackEvent =
  | { readonly type: 'entered'; readonly track: Track; readonly tsUs: number }
  | { readonly type: 'ended'; readonly track: Track; readonly tsUs: number; readonly defective: boolean };

export interface TrackUpdate {
  readonly events: TrackEvent[];
  /** Tracks whose best defect sighting is from this frame (take its crop now: the frame is gone after). */
  readonly newBestDefect: Track[];
  /** Tracks whose best sighting (any class) is from this frame. */
  readonly newBest: Track[];
}

/**
 * A small IoU tracker: each frame's detections are matched greedily, by IoU with each track's
 * position predicted from its velocity, class-agnostic (a part may be seen as good in one
 * frame and defective in the next); unmatched detections start tracks; tracks unseen for
 * maxAgeMs end. So a part crossing the belt becomes one track, and one event, not one message
 * per frame.
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
   * were, so the time does not count towards their age or their velocity. Without this a
   * belt that stands for longer than maxAgeMs would end every track and count each part twice.
   */
  hold(tsUs: number): void {
    if (this.lastFrameUs !== undefined && tsUs > this.lastFrameUs) {
      const dt = tsUs - this.lastFrameUs;
      for (const t of this.tracks) t.lastUs += dt;
    }
    this.lastFrameUs = tsUs;
  }

  /** `atEdge`: the box touches the frame's edge; the sighting moves the track but is not judged. */
  update(detections: readonly (Detection & { atEdge?: boolean })[], tsUs: number): TrackUpdate {
    this.lastFrameUs = tsUs;
    const events: TrackEvent[] = [];
    const newBest: Track[] = [];
    const newBestDefect: Track[] = [];
    const predicted = this.tracks.map((t) => ({ ...t.box, x: t.box.x + t.vx * (tsUs - t.lastUs), y: t.box.y + t.vy * (tsUs - t.lastUs) }));
    const pairs: { t: number; d: number; iou: number }[] = [];
    this.tracks.forEach((_, t) => {
      detections.forEach((det, d) => {
        const v = iou(predicted[t] as Box, det.box);
        if (v >= this.o.iouThreshold) pairs.push({ t, d, iou: v });
      });
    });
    pairs.sort((a, b) => b.iou - a.iou);
    const usedT = new Set<number>();
    const usedD = new Set<number>();
    for (const p of pairs) {
      if (usedT.has(p.t) || usedD.has(p.d)) continue;
      usedT.add(p.t);
      usedD.add(p.d);
      const t = this.tracks[p.t] as Track;
      const det = detections[p.d] as Detection;
      const dt = tsUs - t.lastUs;
      if (dt > 0) {
        // Smoothed: one noisy box must not throw the next prediction off the part.
        const c0 = centre(t.box);
        const c1 = centre(det.box);
        const first = t.hits === 1;
        t.vx = first ? (c1.x - c0.x) / dt : 0.5 * t.vx + (0.5 * (c1.x - c0.x)) / dt;
        t.vy = first ? (c1.y - c0.y) / dt : 0.5 * t.vy + (0.5 * (c1.y - c0.y)) / dt;
      }
      this.see(t, det, tsUs, newBest, newBestDefect);
    }
    detections.forEach((det, d) => {
      if (usedD.has(d)) return;
      // A second box on a part that already has a track is not a new part.
      if (this.tracks.some((t, i) => iou(predicted[i] ?? t.box, det.box) >= DUPLICATE_IOU || iou(t.box, det.box) >= DUPLICATE_IOU)) return;
      const t: Track = { id: this.nextId, box: det.box, vx: 0, vy: 0, firstUs: tsUs, lastUs: tsUs, seenUs: tsUs, hits: 0, judged: 0, defectHits: 0, classHits: new Map(), best: { box: det.box, score: -1, classId: det.classId, tsUs }, bestDefect: undefined, entered: false };
      this.nextId += 1;
      this.tracks.push(t);
      this.see(t, det, tsUs, newBest, newBestDefect);
    });
    for (const t of this.tracks) {
      if (t.entered || t.hits < this.o.minHits || t.lastUs !== tsUs) continue;
      const c = centre(t.box);
      if (this.o.zone === undefined || insideZone(this.o.zone, c.x, c.y)) {
        t.entered = true;
        events.push({ type: 'entered', track: t, tsUs });
      }
    }
    // End what was not seen for maxAgeMs, and the oldest beyond maxTracks.
    for (let i = this.tracks.length - 1; i >= 0; i -= 1) {
      const t = this.tracks[i] as Track;
      if (tsUs - t.lastUs > this.o.maxAgeMs * 1000) this.end(i, tsUs, events);
    }
    while (this.tracks.length > this.o.maxTracks) this.end(0, tsUs, events);
    return { events, newBest, newBestDefect };
  }

  /** Ends every track (the stream stopped). */
  flush(tsUs: number): TrackEvent[] {
    const events: TrackEvent[] = [];
    while (this.tracks.length > 0) this.end(this.tracks.length - 1, tsUs, events);
    return events;
  }

  private see(t: Track, det: Detection & { atEdge?: boolean }, tsUs: number, newBest: Track[], newBestDefect: Track[]): void {
    t.box = det.box;
    t.lastUs = tsUs;
    t.seenUs = tsUs;
    t.hits += 1;
    if (det.atEdge === true) return;
    t.judged += 1;
    t.classHits.set(det.classId, (t.classHits.get(det.classId) ?? 0) + 1);
    if (det.score > t.best.score) {
      t.best = { box: det.box, score: det.score, classId: det.classId, tsUs };
      newBest.push(t);
    }
    if (det.classId === this.o.defectClass) {
      t.defectHits += 1;
      if (t.bestDefect === undefined || det.score > t.bestDefect.score) {
        t.bestDefect = { box: det.box, score: det.score, classId: det.classId, tsUs };
        newBestDefect.push(t);
      }
    }
  }

  private end(i: number, tsUs: number, events: TrackEvent[]): void {
    const [t] = this.tracks.splice(i, 1);
    if (t === undefined || t.hits < this.o.minHits) return;
    const defective = this.o.defectClass !== undefined && t.defectHits >= this.o.defectMinHits && t.defectHits >= this.o.defectMinShare * t.judged;
    events.push({ type: 'ended', track: t, tsUs, defective });
  }
}
