import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Box } from '../../../models/vision/geometry.js';
import { IouTracker, type TrackEvent, type TrackedDetection, type TrackerOptions } from '../../../models/vision/tracker.js';
import { crossingScene, visiblePart } from './crossing-scenes.js';

const options: TrackerOptions = { iouThreshold: 0.3, maxAgeMs: 500, minHits: 2, zone: undefined, defectClass: 1, defectMinHits: 2, defectMinShare: 0.5, maxTracks: 16 };
const FRAME_US = 100_000; // 10 frames/s

type Left = Extract<TrackEvent, { type: 'left' }>;
type Entered = Extract<TrackEvent, { type: 'entered' }>;
const lefts = (ev: TrackEvent[]): Left[] => ev.filter((e): e is Left => e.type === 'left');
const entereds = (ev: TrackEvent[]): Entered[] => ev.filter((e): e is Entered => e.type === 'entered');

/** Runs frames of scripted detections through a tracker, then time enough for every track to end. */
function run(tracker: IouTracker, frames: readonly (readonly TrackedDetection[])[]): { events: TrackEvent[]; ids: (number | undefined)[][] } {
  const events: TrackEvent[] = [];
  const ids: (number | undefined)[][] = [];
  frames.forEach((dets, f) => {
    const u = tracker.update(dets, f * FRAME_US);
    events.push(...u.events);
    ids.push(u.trackIds);
  });
  events.push(...tracker.update([], frames.length * FRAME_US + tracker.o.maxAgeMs * 1000 + FRAME_US).events);
  return { events, ids };
}

describe('tracker', () => {
  it('follows two parts across the belt as two tracks, one of them defective, with its best sighting', () => {
    const frames = Array.from({ length: 20 }, (_, f) => [
      { box: { x: 20 + f * 30, y: 50, w: 100, h: 100 }, score: 0.8, classId: 0 },
      // A defective part, seen as good in some frames, best seen in frame 7: one track (the defect class continues any track).
      { box: { x: 20 + f * 30, y: 300, w: 100, h: 100 }, score: f === 7 ? 0.95 : 0.7, classId: f % 3 === 0 ? 0 : 1 },
    ]);
    const { events } = run(new IouTracker(options), frames);
    expect(entereds(events)).toHaveLength(2);
    const ended = lefts(events);
    expect(ended).toHaveLength(2);
    const defective = ended.filter((e) => e.defective);
    expect(defective).toHaveLength(1);
    expect(defective[0]?.track.bestDefect).toMatchObject({ score: 0.95, tsUs: 700_000 });
    expect(defective[0]?.classId).toBe(1);
  });

  it('drops a one-frame ghost (fewer than minHits) without an event, and bounds its tracks', () => {
    const t = new IouTracker({ ...options, maxTracks: 3 });
    const ev = t.update([{ box: { x: 0, y: 0, w: 10, h: 10 }, score: 0.9, classId: 1 }], 0).events;
    expect(ev).toEqual([]);
    expect(t.update([], 1_000_000).events).toEqual([]);
    for (let i = 0; i < 10; i += 1) t.update([{ box: { x: i * 100, y: 0, w: 10, h: 10 }, score: 0.9, classId: 0 }], 2_000_000 + i);
    expect(t.active.length).toBeLessThanOrEqual(3);
  });

  describe('two objects of different classes that cross and overlap', () => {
    // A (class 2, "person") walks right from frame 0 to 29; B (class 3, "cat") walks left from
    // frame 3 to 25, 10 px lower. Their 60-px boxes overlap for frames 9 to 18 (IoU up to 0.7),
    // and B is hidden behind A in frames 13 and 14 (no detection).
    const A_FIRST = 0;
    const A_LAST = 29;
    const B_FIRST = 3;
    const B_LAST = 25;
    const boxA = (f: number): Box => ({ x: 40 + 20 * f, y: 100, w: 60, h: 60 });
    const boxB = (f: number): Box => ({ x: 640 - 20 * f, y: 110, w: 60, h: 60 });
    const frames = Array.from({ length: A_LAST + 1 }, (_, f) => {
      const dets: TrackedDetection[] = [{ box: boxA(f), score: 0.8 + 0.01 * (f % 5), classId: 2 }];
      if (f >= B_FIRST && f <= B_LAST && f !== 13 && f !== 14) dets.push({ box: boxB(f), score: 0.75, classId: 3 });
      return dets;
    });

    for (const classAware of [true, false]) {
      it(`makes two tracks with the right labels and left events with the right dwell (classAware: ${String(classAware)})`, () => {
        const { events, ids } = run(new IouTracker({ ...options, defectClass: undefined, classAware }), frames);
        const aIds = new Set(ids.map((f) => f[0]));
        const bIds = new Set(ids.flatMap((f) => (f.length > 1 ? [f[1]] : [])));
        expect(aIds.size).toBe(1);
        expect(bIds.size).toBe(1);
        expect(aIds).not.toEqual(bIds);
        expect(entereds(events).map((e) => e.classId)).toEqual([2, 3]);
        const left = lefts(events).sort((x, y) => x.track.id - y.track.id);
        expect(left.map((e) => ({ classId: e.classId, enteredClassId: e.enteredClassId, dwellUs: e.track.dwellUs }))).toEqual([
          { classId: 2, enteredClassId: 2, dwellUs: (A_LAST - A_FIRST) * FRAME_US },
          { classId: 3, enteredClassId: 3, dwellUs: (B_LAST - B_FIRST) * FRAME_US },
        ]);
        expect(left.map((e) => e.track.hits)).toEqual([A_LAST - A_FIRST + 1, B_LAST - B_FIRST + 1 - 2]);
      });
    }
  });

  it('keeps two objects of one class apart as they cross on one line, the one behind seen as a strip, then not at all, then as a strip', () => {
    // The greedy IoU tracker before this one lost the hidden object here and counted it twice.
    const boxA = (f: number): Box => ({ x: 40 + 24 * f, y: 200, w: 80, h: 80 });
    const boxB = (f: number): Box => ({ x: 760 - 24 * f, y: 200, w: 80, h: 80 });
    const frames = Array.from({ length: 30 }, (_, f) => {
      const dets: TrackedDetection[] = [{ box: boxA(f), score: 0.9, classId: 0 }];
      const b = visiblePart(boxB(f), boxA(f));
      if (b !== undefined) dets.push({ box: b, score: 0.9, classId: 0 });
      return dets;
    });
    expect(frames.filter((d) => d.length === 1).length).toBeGreaterThanOrEqual(1);
    expect(frames.filter((d) => (d[1]?.box.w ?? 80) < 80).length).toBeGreaterThanOrEqual(2);
    const { events, ids } = run(new IouTracker({ ...options, defectClass: undefined }), frames);
    expect(new Set(ids.map((f) => f[0])).size).toBe(1);
    expect(new Set(ids.flatMap((f) => (f.length > 1 ? [f[1]] : []))).size).toBe(1);
    expect(entereds(events)).toHaveLength(2);
    expect(lefts(events)).toHaveLength(2);
  });

  it('comes out of 400 seeded random crossings with two tracks, each object on its own from first sighting to last (the greedy IoU tracker before it: 155 of 400)', () => {
    // One class or two, 0.1..0.8 box sizes per frame, occlusion, jitter, missed detections: see
    // crossing-scenes.ts. At the very frame where two objects of one class meet and one of them
    // is missed, the one detection may go to either track (geometry cannot tell them apart): so
    // identity is judged on each object's first and last sighting, not on every frame.
    let kept = 0;
    const failed: number[] = [];
    for (let seed = 1; seed <= 400; seed += 1) {
      const scene = crossingScene(seed);
      const t = new IouTracker({ ...options, iouThreshold: 0.2, maxAgeMs: 1000, defectClass: undefined });
      const first: (number | undefined)[] = [undefined, undefined];
      const last: (number | undefined)[] = [undefined, undefined];
      let entered = 0;
      scene.frames.forEach((dets, f) => {
        const u = t.update(
          dets.map((d) => d.det),
          f * FRAME_US,
        );
        entered += entereds(u.events).length;
        dets.forEach((d, i) => {
          first[d.object] ??= u.trackIds[i];
          last[d.object] = u.trackIds[i];
        });
      });
      if (entered === 2 && first[0] !== undefined && first[0] === last[0] && first[1] === last[1] && first[0] !== first[1]) kept += 1;
      else failed.push(seed);
    }
    expect(kept, `lost or swapped an identity in seeds ${failed.join(', ')}`).toBeGreaterThanOrEqual(396);
  });

  describe('a person stood 20 frames in view where a cat was seen once', () => {
    // Frame 0: the cat (class 1, 0.9). Frames 1..20: the person (class 0, 0.8) on the same spot.
    const box = (f: number): Box => ({ x: 200 + (f % 2), y: 100, w: 80, h: 160 });
    const frames = Array.from({ length: 21 }, (_, f) => [{ box: box(f), score: f === 0 ? 0.9 : 0.8, classId: f === 0 ? 1 : 0 }]);

    it('class-aware: the person gets a track of its own, labelled person from the start', () => {
      const { events } = run(new IouTracker({ ...options, defectClass: undefined }), frames);
      expect(entereds(events).map((e) => e.classId)).toEqual([0]);
      expect(lefts(events).map((e) => ({ classId: e.classId, enteredClassId: e.enteredClassId, dwellUs: e.track.dwellUs }))).toEqual([{ classId: 0, enteredClassId: 0, dwellUs: 19 * FRAME_US }]);
    });

    it('classAware: false: one track, entered as the cat, left as the person (the label is corrected)', () => {
      const { events } = run(new IouTracker({ ...options, defectClass: undefined, classAware: false }), frames);
      expect(entereds(events).map((e) => e.classId)).toEqual([1]);
      expect(lefts(events).map((e) => ({ classId: e.classId, enteredClassId: e.enteredClassId, dwellUs: e.track.dwellUs }))).toEqual([{ classId: 0, enteredClassId: 1, dwellUs: 20 * FRAME_US }]);
    });
  });

  it('labels a track seen only at the frame edge by its edge sightings, and by whole ones once it has them', () => {
    const t = new IouTracker({ ...options, defectClass: undefined });
    const at = (f: number, classId: number, atEdge: boolean): TrackedDetection => ({ box: { x: 10 * f, y: 0, w: 60, h: 60 }, score: 0.9, classId, atEdge });
    const entered = entereds([...t.update([at(0, 4, true)], 0).events, ...t.update([at(1, 4, true)], FRAME_US).events]);
    expect(entered.map((e) => e.classId)).toEqual([4]);
    // Class-aware: a whole sighting of another class does not continue it; with classAware: false it does, and takes over the label.
    const u = new IouTracker({ ...options, defectClass: undefined, classAware: false });
    u.update([at(0, 4, true)], 0);
    u.update([at(1, 4, true)], FRAME_US);
    u.update([at(2, 5, false)], 2 * FRAME_US);
    expect(lefts(u.flush(3 * FRAME_US)).map((e) => ({ classId: e.classId, enteredClassId: e.enteredClassId }))).toEqual([{ classId: 5, enteredClassId: 4 }]);
  });

  it('never throws, gives each detection at most one track and each track at most one detection, leaves out boxes that are no numbers, and ends every confirmed track once (property)', () => {
    const det = fc.record({
      // Now and then a coordinate that is no number (a broken model output): left out, never a crash or a NaN track.
      box: fc.record({ x: fc.oneof({ weight: 30, arbitrary: fc.integer({ min: -50, max: 600 }) }, { weight: 1, arbitrary: fc.constantFrom(Number.NaN, Infinity) }), y: fc.integer({ min: -50, max: 400 }), w: fc.integer({ min: 0, max: 200 }), h: fc.integer({ min: 0, max: 200 }) }),
      score: fc.double({ min: 0, max: 1, noNaN: true }),
      classId: fc.integer({ min: 0, max: 3 }),
      atEdge: fc.boolean(),
    });
    fc.assert(
      fc.property(fc.array(fc.array(det, { maxLength: 8 }), { maxLength: 25 }), fc.boolean(), fc.constantFrom(undefined, 1), (frames, classAware, defectClass) => {
        const t = new IouTracker({ ...options, maxTracks: 6, classAware, defectClass });
        const events: TrackEvent[] = [];
        frames.forEach((dets, f) => {
          const u = t.update(dets, f * FRAME_US);
          const assigned = u.trackIds.filter((id) => id !== undefined);
          dets.forEach((d, i) => {
            if (!Number.isFinite(d.box.x)) expect(u.trackIds[i]).toBeUndefined();
          });
          for (const tr of t.active) expect(Number.isFinite(tr.kalman.predict(0.1).box.x)).toBe(true);
          expect(new Set(assigned).size).toBe(assigned.length);
          expect(t.active.length).toBeLessThanOrEqual(6);
          events.push(...u.events);
        });
        events.push(...t.flush(frames.length * FRAME_US));
        const left = lefts(events);
        expect(new Set(left.map((e) => e.track.id)).size).toBe(left.length);
        for (const e of entereds(events)) expect(left.some((l) => l.track === e.track && l.enteredClassId === e.classId)).toBe(true);
        for (const e of left) {
          expect(e.track.dwellUs).toBeGreaterThanOrEqual(0);
          expect(Number.isInteger(e.classId) && e.classId >= 0).toBe(true);
        }
      }),
      { numRuns: 300 },
    );
  });
});
