import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ConveyorScene, type ConveyorFrame } from '../../../sim/camera/index.js';
import { PartExits } from '../../../sim/run/camera-truth.js';

const W = 160;
const H = 120;

function render(seed: number, frames: number, defectShare: number): ConveyorFrame[] {
  const scene = new ConveyorScene({ width: W, height: H, fps: 5, seed, defectShare });
  return Array.from({ length: frames }, () => scene.next());
}

describe('PartExits', () => {
  it('ends a window at a frame no part is half out of, and counts exactly the defective parts last seen by then', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 31 }), fc.integer({ min: 20, max: 80 }), fc.double({ min: 0, max: 1, noNaN: true }), fc.double({ min: 0, max: 1, noNaN: true }), (seed, n, share, at) => {
        const frames = render(seed, n, share);
        const exits = new PartExits();
        for (const f of frames) exits.see(f.index, 1_000_000 + f.index * 200, f.parts, f.width);
        const last = Math.floor(at * (n - 2));
        const cut = exits.cutAt(1_000_000 + last * 200 + 100);
        expect(cut).not.toBeNull();
        const k = cut?.frame as number;
        expect(cut?.atMs).toBe(1_000_000 + k * 200);
        // A frame is clean when no part in it is cut by the right edge. The cut is the last clean frame
        // up to `last` (or `last` itself when none is).
        const clean = (j: number): boolean => (frames[j] as ConveyorFrame).parts.every((p) => !(p.visible < 1 && p.box.x > 0 && p.box.x + p.box.w >= W));
        const cleanUpTo = [...Array(last + 1).keys()].filter(clean);
        expect(k).toBe(cleanUpTo.length > 0 ? cleanUpTo[cleanUpTo.length - 1] : last);
        // What makes a clean frame a fair end: every part in view in it is still in view one frame
        // later, so a defect event's last sighting is after the cut exactly when its part left after it.
        for (const j of cleanUpTo) {
          const next = new Set((frames[j + 1] as ConveyorFrame).parts.map((p) => p.id));
          expect((frames[j] as ConveyorFrame).parts.every((p) => next.has(p.id))).toBe(true);
        }
        // Brute force: each defective part's last frame in view, over the whole clip.
        const lastSeen = new Map<number, { frame: number; defect: string }>();
        for (const f of frames) for (const p of f.parts) lastSeen.set(p.id, { frame: f.index, defect: p.defect });
        const expected = [...lastSeen.entries()].filter(([, v]) => v.defect !== 'none' && v.frame <= k).map(([id, v]) => ({ partId: id, defect: v.defect, frame: v.frame, atMs: 1_000_000 + v.frame * 200 }));
        expect(exits.exitsUntil(k)).toEqual(expected.sort((a, b) => a.frame - b.frame || a.partId - b.partId));
      }),
      { numRuns: 60 },
    );
  });
});
