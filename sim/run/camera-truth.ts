import type { PartDefect, PartTruth } from '../camera/types.js';

/** A defective part's last frame in view, with the wall-clock time that frame was shown (sent to the gateway). */
export interface PartExit {
  readonly partId: number;
  readonly defect: Exclude<PartDefect, 'none'>;
  /** The last frame the part was visible in (> 0 of its area). */
  readonly frame: number;
  readonly atMs: number;
}

/** A frame the scored window may end at: no part is on its way out of view in it. */
export interface CutFrame {
  readonly frame: number;
  readonly atMs: number;
}

/** Recent frames kept to choose a cut from (a cut is chosen at most a few seconds after the frame it picks). */
const RECENT_FRAMES = 256;
/** Exits kept, at most: a part leaves every second or so, so this is hours of belt; past it the oldest go (counted). */
const MAX_EXITS = 50_000;

/**
 * The conveyor camera's ground truth as the gateway saw it: which defective part left the
 * view at which frame and when, and frames where the scored window may end.
 *
 * A window ending at frame K counts a part when its last visible frame is <= K. For the
 * vision stage's `defect` events to be judged by the same rule (an event counts when its
 * last sighting is <= K's time), K must be a frame with no part half out on the right: then
 * every part seen in K stays in view after it (its last sighting is later) and every part
 * that left did so before K. A part entering on the left is no trouble: it leaves seconds later.
 */
export class PartExits {
  private readonly inView = new Map<number, { defect: PartDefect; frame: number; atMs: number }>();
  private readonly exitList: PartExit[] = [];
  private readonly recent: (CutFrame & { readonly clean: boolean })[] = [];
  /** Exits dropped because MAX_EXITS were kept (never in a run of minutes). */
  droppedExits = 0;
  /** Frames seen. */
  frames = 0;

  /** One frame as shown at `atMs`: the parts in it (visible > 0) and its width. */
  see(frame: number, atMs: number, parts: readonly PartTruth[], width: number): void {
    this.frames += 1;
    const here = new Set<number>();
    let clean = true;
    for (const p of parts) {
      here.add(p.id);
      this.inView.set(p.id, { defect: p.defect, frame, atMs });
      // Cut by the right edge (leaving); a part cut by the left edge is entering.
      if (p.visible < 1 && p.box.x > 0 && p.box.x + p.box.w >= width) clean = false;
    }
    for (const [id, p] of this.inView) {
      if (here.has(id)) continue;
      this.inView.delete(id);
      if (p.defect === 'none') continue;
      if (this.exitList.length >= MAX_EXITS) {
        this.exitList.shift();
        this.droppedExits += 1;
      }
      this.exitList.push({ partId: id, defect: p.defect, frame: p.frame, atMs: p.atMs });
    }
    if (this.recent.length >= RECENT_FRAMES) this.recent.shift();
    this.recent.push({ frame, atMs, clean });
  }

  /**
   * The last clean frame shown at or before `ms` (within the last RECENT_FRAMES frames; else
   * the last frame at or before `ms`, clean or not); null when no frame was shown by then.
   */
  cutAt(ms: number): CutFrame | null {
    const shown = this.recent.filter((c) => c.atMs <= ms);
    const c = shown.findLast((x) => x.clean) ?? shown[shown.length - 1];
    return c === undefined ? null : { frame: c.frame, atMs: c.atMs };
  }

  /** Defective parts whose last visible frame is at or before `frame`, in the order they left. */
  exitsUntil(frame: number): PartExit[] {
    return this.exitList.filter((e) => e.frame <= frame);
  }
}
