/**
 * Frame times for a raw H.264 stream, which carries none: the source makes them up from
 * the stream's nominal rate and the wall clock, and samples frames down to a target rate.
 * Times are wall-clock milliseconds read from a monotonic clock anchored once, so they
 * never step back when NTP adjusts the system clock.
 */

/** Falling further behind than this re-anchors a clock instead of bursting to catch up. */
const MAX_LAG_MS = 1000;

export class MonotonicWallClock {
  private readonly wall = Date.now();
  private readonly perf = performance.now();

  now(): number {
    return this.wall + (performance.now() - this.perf);
  }
}

/**
 * A file played at `fps`: picture n is due at anchor + n/fps. Its time is when it is due,
 * in both playback modes, so a vision stage sees the stream's own spacing between frames
 * even when a benchmark plays the file as fast as it can.
 */
export class FileClock {
  private anchor: number;
  private n = 0;

  constructor(
    private readonly clock: MonotonicWallClock,
    private readonly fps: number,
  ) {
    this.anchor = clock.now();
  }

  /** The next picture's time, ms; re-anchors when playback fell more than a second behind. */
  next(): number {
    let due = this.anchor + (this.n * 1000) / this.fps;
    if (this.clock.now() - due > MAX_LAG_MS) {
      this.anchor = this.clock.now() - (this.n * 1000) / this.fps;
      due = this.anchor + (this.n * 1000) / this.fps;
    }
    this.n += 1;
    return due;
  }
}

/**
 * A file that carries its own times (MP4): a picture is at anchor + its presentation time,
 * due at anchor + its decode time (B-frames are decoded before pictures they precede on
 * screen). Each loop adds the file's duration, so times keep increasing.
 */
export class MediaClock {
  private anchor: number;
  private base = 0;

  constructor(private readonly clock: MonotonicWallClock) {
    this.anchor = clock.now();
  }

  /** Times (ms) of a unit at `decodeMs` / `presentMs` into the file; re-anchors when playback fell more than a second behind. */
  next(decodeMs: number, presentMs: number): { tsMs: number; dueMs: number } {
    const now = this.clock.now();
    let dueMs = this.anchor + this.base + decodeMs;
    if (now - dueMs > MAX_LAG_MS) {
      this.anchor += now - dueMs;
      dueMs = now;
    }
    return { tsMs: this.anchor + this.base + presentMs, dueMs };
  }

  /** The file starts over after `durationMs`. */
  loop(durationMs: number): void {
    this.base += durationMs;
  }
}

/**
 * A live stream: a picture's time is its arrival, except that pictures of a burst (a
 * network hiccup) are spaced 1/fps apart backwards: never later than arrival, never more
 * than a second before it, always after the previous picture.
 */
export class LiveClock {
  private last = -Infinity;

  constructor(
    private readonly clock: MonotonicWallClock,
    private readonly fps: number,
  ) {}

  next(): number {
    const arrival = this.clock.now();
    // The first picture is at its arrival: with no previous one to space from, the formula
    // below would put it a whole MAX_LAG_MS early, and every later picture, spaced from it,
    // would stay up to that far behind (a live camera's frames a second old on arrival).
    if (this.last === -Infinity) {
      this.last = arrival;
      return arrival;
    }
    const spaced = this.last + 1000 / this.fps;
    let t = Math.min(arrival, Math.max(spaced, arrival - MAX_LAG_MS));
    if (t <= this.last) t = this.last + 0.001;
    this.last = t;
    return t;
  }
}

/**
 * Keeps frames at `fps` at most out of a stream at `streamFps`: a frame passes when it is
 * within half a stream frame of the next due time, so 30 -> 10 keeps exactly every third.
 */
export class FrameSampler {
  private nextMs = -Infinity;
  private readonly intervalMs: number;
  private readonly toleranceMs: number;

  constructor(fps: number | undefined, streamFps: number) {
    this.intervalMs = fps === undefined ? 0 : 1000 / fps;
    this.toleranceMs = 500 / streamFps;
  }

  take(tsMs: number): boolean {
    if (this.intervalMs === 0) return true;
    if (tsMs + this.toleranceMs < this.nextMs) return false;
    // After a gap longer than an interval, restart from this frame rather than catching up.
    this.nextMs = this.nextMs + this.intervalMs < tsMs ? tsMs + this.intervalMs : this.nextMs + this.intervalMs;
    return true;
  }
}
