import type { ComponentEvents } from '../../runtime/health/events.js';
import type { DecisionSink } from '../../runtime/pipeline/components.js';
import type { RawFrame } from '../../runtime/pipeline/frame.js';
import type { RecordInput } from '../../runtime/pipeline/record.js';
import type { ModelRef } from '../../runtime/store/decision-log.js';
import { BACKGROUND_CLASS_NAME, cropRegion } from './classifier/architecture.js';
import type { CropClass } from './classifier/crop-classifier.js';
import { encodeCrop, greyCrop, type GreyCrop } from './crop.js';
import { IouTracker, type TrackEvent } from './tracker.js';
import { leftRecordData, ms } from './track-records.js';
import { TrackReports } from './track-reports.js';
import type { SourceDetection } from './vision-model.js';
import type { VisionStageOptions } from './vision-stage.js';

export type TrackEventsOptions = Pick<VisionStageOptions, 'classifier' | 'zones' | 'tracker' | 'cropMaxSize' | 'detections' | 'zoneCounts'>;

/** How the active model's results are named; it changes when a new release is loaded. */
export interface ModelNaming {
  readonly modelRef: ModelRef;
  readonly defectClassId: number | undefined;
  className(classId: number): string;
}

/** A box this close to the frame's edge belongs to a part that is partly outside: tracked, not judged. */
const EDGE_MARGIN_PX = 2;

/** Crops kept per track (one each: its best defect sighting). */
interface TrackCrop {
  /** Encoded as PNG only if the track ends as a defect. */
  readonly crop: GreyCrop;
}

/**
 * A detector's frames turned into one event per part, per stream: the tracker, then `entered`
 * when a track first has its centre in the first zone, `left` (final label, dwell) when it
 * ends, and `defect` when a track that was seen as defective ends, with its best sighting and a
 * crop of it (also written to the decision log); each names the first zone (`zone`) when its
 * track entered it. Then the zone counts and detection samples of TrackReports.
 */
export class TrackEvents {
  private readonly trackers = new Map<string, IouTracker>();
  private readonly crops = new Map<string, TrackCrop>();
  private readonly reports: TrackReports;
  private eventsOut = 0;
  private defectsOut = 0;

  constructor(
    private readonly o: TrackEventsOptions,
    private readonly naming: ModelNaming,
    private readonly decisions: DecisionSink,
    private readonly events: ComponentEvents,
  ) {
    this.reports = new TrackReports({ zones: o.zones, minHits: o.tracker.minHits, detections: o.detections, zoneCounts: o.zoneCounts });
  }

  /** Records made so far (events, zone counts, detection samples). */
  get records(): number {
    return this.eventsOut;
  }

  get defects(): number {
    return this.defectsOut;
  }

  stats(): Record<string, number> {
    return this.reports.stats();
  }

  /** The cascade classifier's classes (if any), the tracker, and the events of one inferred frame. */
  trackFrame(stream: string, frame: RawFrame, detected: SourceDetection[], classes: readonly CropClass[] | undefined, out: RecordInput[]): void {
    let detections = detected;
    if (classes !== undefined) {
      // The detector says where a part is and how sure it is; the classifier says which class.
      detections = detections
        .map((d, i) => {
          const c = classes[i] ?? { classId: 0, score: 0 };
          return { ...d, classId: c.classId, className: this.naming.className(c.classId), score: d.score * c.score };
        })
        .filter((d) => d.className !== BACKGROUND_CLASS_NAME);
    }
    // With a classifier the part is judged on its crop, which must be whole in the frame too.
    const edge = EDGE_MARGIN_PX;
    const judged = detections.map((d) => {
      const r = this.o.classifier === undefined ? d.box : cropRegion(d.box);
      return { ...d, atEdge: r.x <= edge || r.y <= edge || r.x + r.w >= frame.width - edge || r.y + r.h >= frame.height - edge };
    });
    const tracker = this.tracker(stream);
    const update = tracker.update(judged, frame.timestampUs);
    if (this.o.cropMaxSize > 0) {
      for (const t of update.newBestDefect) {
        const best = t.bestDefect;
        if (best !== undefined) this.crops.set(`${stream}#${t.id}`, { crop: greyCrop(frame, best.box, this.o.cropMaxSize) });
      }
    }
    for (const e of update.events) this.emit(stream, e, out);
    this.eventsOut += this.reports.afterFrame(stream, frame, judged, tracker, update, (c) => this.naming.className(c), this.naming.modelRef, out);
  }

  tracker(stream: string): IouTracker {
    let tracker = this.trackers.get(stream);
    if (tracker === undefined) {
      tracker = new IouTracker({ ...this.o.tracker, zone: this.o.zones[0]?.polygon, defectClass: this.naming.defectClassId });
      this.trackers.set(stream, tracker);
    }
    return tracker;
  }

  /** The streams stopped: every track still open ends, with its events and the last zone counts. */
  flush(out: RecordInput[]): void {
    for (const [stream, tracker] of this.trackers) {
      const last = Math.max(0, ...tracker.active.map((t) => t.seenUs));
      const ended = tracker.flush(last + 1);
      for (const e of ended) this.emit(stream, e, out);
      this.eventsOut += this.reports.atEnd(stream, ended, last + 1, (c) => this.naming.className(c), out);
    }
  }

  private emit(stream: string, e: TrackEvent, out: RecordInput[]): void {
    const t = e.track;
    const key = `${stream}#${t.id}`;
    const { modelRef } = this.naming;
    const className = (classId: number): string => this.naming.className(classId);
    // The zone whose entry made the `entered` (none: the stage has no zones, the whole frame counts).
    const zone = t.entered ? this.o.zones[0]?.name : undefined;
    const inZone = zone === undefined ? {} : { zone };
    if (e.type === 'entered') {
      this.eventsOut += 1;
      // Its label now, from its sightings so far; the `left` event says if it changed.
      out.push({ stream: `${stream}.events`, class: 'result', ts: ms(e.tsUs), data: { event: 'entered', track: t.id, ...inZone, className: className(e.classId), box: t.box, model: modelRef } });
      return;
    }
    const grey = this.crops.get(key);
    this.crops.delete(key);
    // A `left` closes an `entered`: tracks that never entered the zone end without one.
    const left = t.entered ? { stream: `${stream}.events`, class: 'result' as const, ts: ms(t.seenUs), data: leftRecordData(e, zone, className, this.naming.defectClassId, modelRef) } : undefined;
    if (left !== undefined) this.eventsOut += 1;
    if (!e.defective || t.bestDefect === undefined) {
      if (left !== undefined) out.push(left);
      return;
    }
    const crop = grey === undefined ? undefined : encodeCrop(grey.crop);
    this.eventsOut += 1;
    this.defectsOut += 1;
    const best = t.bestDefect;
    const data = {
      event: 'defect',
      track: t.id,
      // A defect is reported whether or not its track entered the zone; `zone` says when it did.
      ...inZone,
      className: className(best.classId),
      firstTs: ms(t.firstUs),
      lastTs: ms(t.seenUs),
      sightings: t.hits,
      defectSightings: t.defectHits,
      best: { ts: ms(best.tsUs), score: best.score, box: best.box },
      ...(this.o.classifier === undefined ? {} : { classifier: this.o.classifier.model }),
      ...(crop === undefined ? {} : { crop: { png: crop.png, width: crop.width, height: crop.height, region: crop.region } }),
      model: modelRef,
    };
    out.push({ stream: `${stream}.events`, class: 'result', ts: ms(best.tsUs), data });
    if (left !== undefined) out.push(left);
    this.decisions
      .append({
        ts: ms(best.tsUs),
        kind: 'decision',
        stream,
        model: modelRef,
        inputs: { frameTs: ms(best.tsUs), sightings: t.hits, ...(this.o.classifier === undefined ? {} : { classifier: this.o.classifier.model }) },
        // The image region that drove the decision, and how sure the model was.
        explanation: { region: best.box, score: best.score, className: className(best.classId), defectSightings: t.defectHits },
        outcome: { event: 'defect', track: t.id },
        recordId: null,
      })
      .catch((err: unknown) => this.events.error('vision.decision_failed', { code: 'E_STORE_WRITE', reason: (err as Error).message }));
  }
}
