import type { ModelRef } from '../../runtime/store/decision-log.js';
import type { Box } from './geometry.js';
import type { TrackEvent } from './tracker.js';
import type { ZoneCount } from './zone-counts.js';

/** What the stage's records need to name a class (`class<N>` when the model has no names). */
export type ClassName = (classId: number) => string;

/** Raw detections of a frame, at most every `everyMs` of frame time (options `detections`). */
export interface DetectionsOptions {
  readonly everyMs: number;
  /** The best this many of a frame's detections go in a record (the rest are counted). */
  readonly maxDetections: number;
}

/** At most once per `everyMs` of frame time (frame time, not wall time: a file read faster than real time samples the same frames). */
export class FrameInterval {
  private lastUs: number | undefined;

  constructor(private readonly everyMs: number) {}

  /** True, and the interval starts again, when `everyMs` has passed since the last true. */
  due(tsUs: number): boolean {
    if (this.lastUs !== undefined && tsUs - this.lastUs < this.everyMs * 1000 && tsUs >= this.lastUs) return false;
    this.lastUs = tsUs;
    return true;
  }
}

/** Wall-clock ms of a frame timestamp: the stream's clock is taken as µs since the epoch when it is one. */
export const ms = (tsUs: number): number => tsUs / 1000;

/** A `left` event: the zone it entered (none: the stage has no zones), the track's final label, whether it changed since `entered`, and how long it was in view. */
export function leftRecordData(e: Extract<TrackEvent, { type: 'left' }>, zone: string | undefined, name: ClassName, defectClass: number | undefined, model: ModelRef): Record<string, unknown> {
  const t = e.track;
  const changed = e.enteredClassId !== undefined && e.enteredClassId !== e.classId;
  return {
    event: 'left',
    track: t.id,
    ...(zone === undefined ? {} : { zone }),
    className: name(e.classId),
    labelChanged: changed,
    ...(changed ? { enteredClassName: name(e.enteredClassId) } : {}),
    firstTs: ms(t.firstUs),
    lastTs: ms(t.seenUs),
    dwellMs: ms(t.dwellUs),
    sightings: t.hits,
    box: t.box,
    ...(defectClass === undefined ? {} : { defective: e.defective }),
    model,
  };
}

/** The best `maxDetections` of one frame's detections, each with the track it went to (null: none). */
export function detectionsRecordData(
  detections: readonly { readonly box: Box; readonly score: number; readonly classId: number }[],
  trackIds: readonly (number | undefined)[],
  frame: { readonly width: number; readonly height: number },
  o: DetectionsOptions,
  name: ClassName,
  model: ModelRef,
): Record<string, unknown> {
  const best = detections
    .map((d, i) => ({ d, track: trackIds[i] ?? null }))
    .sort((a, b) => b.d.score - a.d.score)
    .slice(0, o.maxDetections);
  return {
    event: 'detections',
    width: frame.width,
    height: frame.height,
    total: detections.length,
    detections: best.map(({ d, track }) => ({ className: name(d.classId), score: d.score, box: d.box, track })),
    model,
  };
}

/** Counts per zone (by name, in the config's order) and class name: entered since the stage started, and present now. */
export function zonesRecordData(zoneNames: readonly string[], counts: readonly ZoneCount[], name: ClassName): Record<string, unknown> {
  const named = (m: ReadonlyMap<number, number>): Record<string, number> => Object.fromEntries([...m].sort((a, b) => a[0] - b[0]).map(([c, n]) => [name(c), n]));
  return { event: 'zones', zones: counts.map((c, z) => ({ zone: zoneNames[z], entered: named(c.entered), present: named(c.present) })) };
}
