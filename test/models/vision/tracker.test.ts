import { describe, expect, it } from 'vitest';
import { IouTracker } from '../../../models/vision/tracker.js';

const options = { iouThreshold: 0.3, maxAgeMs: 500, minHits: 2, zone: undefined, defectClass: 1, defectMinHits: 2, defectMinShare: 0.5, maxTracks: 16 };

describe('IoU tracker', () => {
  it('follows two parts across the belt as two tracks, one of them defective, with its best sighting', () => {
    const t = new IouTracker(options);
    const events = [];
    for (let f = 0; f < 20; f += 1) {
      const ts = f * 100_000;
      const dets = [
        { box: { x: 20 + f * 30, y: 50, w: 100, h: 100 }, score: 0.8, classId: 0 },
        // A defective part, seen as good in some frames, best seen in frame 7.
        { box: { x: 20 + f * 30, y: 300, w: 100, h: 100 }, score: f === 7 ? 0.95 : 0.7, classId: f % 3 === 0 ? 0 : 1 },
      ];
      events.push(...t.update(dets, ts).events);
    }
    events.push(...t.update([], 20 * 100_000 + 600_000).events);
    const ended = events.filter((e) => e.type === 'ended');
    expect(events.filter((e) => e.type === 'entered')).toHaveLength(2);
    expect(ended).toHaveLength(2);
    const defective = ended.filter((e) => e.type === 'ended' && e.defective);
    expect(defective).toHaveLength(1);
    expect(defective[0]?.track.bestDefect).toMatchObject({ score: 0.95, tsUs: 700_000 });
  });

  it('drops a one-frame ghost (fewer than minHits) without an event, and bounds its tracks', () => {
    const t = new IouTracker({ ...options, maxTracks: 3 });
    const ev = t.update([{ box: { x: 0, y: 0, w: 10, h: 10 }, score: 0.9, classId: 1 }], 0).events;
    expect(ev).toEqual([]);
    expect(t.update([], 1_000_000).events).toEqual([]);
    for (let i = 0; i < 10; i += 1) t.update([{ box: { x: i * 100, y: 0, w: 10, h: 10 }, score: 0.9, classId: 0 }], 2_000_000 + i);
    expect(t.active.length).toBeLessThanOrEqual(3);
  });
});
