import { describe, expect, it } from 'vitest';
import type { Box, Zone } from '../../../models/vision/geometry.js';
import { IouTracker, type TrackedDetection } from '../../../models/vision/tracker.js';
import { FrameInterval } from '../../../models/vision/track-records.js';
import { ZoneCounter } from '../../../models/vision/zone-counts.js';

const LEFT: Zone = [
  [0, 0],
  [100, 0],
  [100, 100],
  [0, 100],
];
const RIGHT: Zone = [
  [100, 0],
  [200, 0],
  [200, 100],
  [100, 100],
];
const options = { iouThreshold: 0.2, maxAgeMs: 300, minHits: 2, zone: undefined, defectClass: undefined, defectMinHits: 2, defectMinShare: 0.5, maxTracks: 8, classAware: false };
const FRAME_US = 100_000;
const at = (x: number, classId: number, score = 0.9): TrackedDetection => ({ box: { x, y: 30, w: 20, h: 20 } satisfies Box, score, classId });
const plain = (m: ReadonlyMap<number, number>): Record<number, number> => Object.fromEntries(m);

describe('zone counter', () => {
  it('counts each track once per zone it entered, under its current label, and who is in each zone now', () => {
    const tracker = new IouTracker(options);
    const counter = new ZoneCounter([LEFT, RIGHT], 2);
    // One object walks from the left zone to the right one and back to the left, 5 px a frame.
    const xs = [...Array.from({ length: 21 }, (_, i) => 40 + 5 * i), ...Array.from({ length: 15 }, (_, i) => 135 - 5 * i)];
    xs.forEach((x, f) => {
      const u = tracker.update([at(x, 0)], f * FRAME_US);
      counter.update(tracker.active, u.events.flatMap((e) => (e.type === 'left' ? [e.track] : [])));
    });
    expect(counter.counts.map((c) => ({ entered: plain(c.entered), present: plain(c.present) }))).toEqual([
      { entered: { 0: 1 }, present: { 0: 1 } },
      { entered: { 0: 1 }, present: {} },
    ]);
    // It leaves the picture: still counted as entered, no longer present.
    const u = tracker.update([], 40 * FRAME_US);
    counter.update(tracker.active, u.events.flatMap((e) => (e.type === 'left' ? [e.track] : [])));
    expect(counter.counts.map((c) => ({ entered: plain(c.entered), present: plain(c.present) }))).toEqual([
      { entered: { 0: 1 }, present: {} },
      { entered: { 0: 1 }, present: {} },
    ]);
  });

  it('moves a count when the track is relabelled, ignores a track below minHits, and says when something changed', () => {
    const tracker = new IouTracker(options);
    const counter = new ZoneCounter([LEFT], 2);
    const step = (f: number, dets: TrackedDetection[]): void => {
      tracker.update(dets, f * FRAME_US);
      counter.update(tracker.active);
    };
    step(0, [at(40, 7, 0.95)]);
    expect(counter.changed).toBe(false); // one sighting: not counted yet
    step(1, [at(41, 3, 0.5)]);
    expect(plain(counter.counts[0]?.entered ?? new Map())).toEqual({ 7: 1 });
    expect(counter.changed).toBe(true);
    counter.reported();
    step(2, [at(42, 3, 0.5)]);
    // Class 3 now outweighs 7 (0.5 + 0.5 against 0.95): the one entered count moves to it.
    expect(plain(counter.counts[0]?.entered ?? new Map())).toEqual({ 3: 1 });
    expect(plain(counter.counts[0]?.present ?? new Map())).toEqual({ 3: 1 });
    expect(counter.changed).toBe(true);
    counter.reported();
    step(3, [at(43, 3, 0.5)]);
    expect(counter.changed).toBe(false);
  });

  it('FrameInterval: true at most once per interval of frame time, and again after the clock goes back', () => {
    const every = new FrameInterval(1000);
    expect([0, 500_000, 999_999, 1_000_000, 1_500_000, 2_100_000].map((t) => every.due(t))).toEqual([true, false, false, true, false, true]);
    expect(every.due(100)).toBe(true); // a stream restarted its clock
  });
});
