/**
 * Frame times of an RTSP stream from the camera's own clock: the RTP timestamp (RFC 3550
 * 5.1; 90 kHz for video, RFC 6184) says when the camera took each picture, so pictures keep
 * the stream's spacing when the network delays them, bunches them after a stall, or the
 * reader takes them in bursts. Arrival times jitter with all of that.
 *
 * A picture's time is anchor + (its RTP timestamp - the anchor's) / clock rate, where the
 * anchor is the wall-clock arrival of the first picture of a session. The 32-bit timestamp
 * wraps (every 13.25 h at 90 kHz; cameras start at a random value, so the first wrap can
 * come at any time): it is unwrapped into an extended counter by the signed 32-bit
 * difference from the previous one, so steps of either sign up to 2^31 ticks (6.6 h) are
 * taken as they are.
 *
 * The camera's clock is trusted only within bounds of arrival: a picture that would be
 * more than `maxAheadMs` after its arrival (a camera clock that runs fast, or jumps ahead)
 * or more than `maxBehindMs` before it (a clock that jumps back or runs slow) re-anchors
 * the clock at that picture's arrival, and is counted in `resets`. Ahead is bounded more
 * tightly than behind: a picture cannot arrive before it was taken, so ahead is only the
 * anchor's own delay, while behind is what a network or reader stall legitimately adds.
 *
 * RTCP sender reports (which map RTP time to the camera's NTP wall clock) are not used:
 * that wall clock is the camera's own, which on IP cameras is often unsynchronised or
 * hours off, so it would be re-anchored away by the bounds above, and the spacing of one
 * stream needs only the RTP clock.
 */

export interface RtpClockOptions {
  /** RTP ticks per second: 90000 for video (the SDP's rtpmap says). */
  readonly clockRate: number;
  /** A picture timed later than its arrival by more than this re-anchors. Default 1000. */
  readonly maxAheadMs?: number;
  /** A picture timed earlier than its arrival by more than this re-anchors. Default 10000. */
  readonly maxBehindMs?: number;
}

/**
 * Extends a 32-bit RTP timestamp past its wrap: the counter moves by the signed 32-bit
 * difference from the previous timestamp. `previous` undefined: the timestamp as it is.
 */
export function unwrapRtpTimestamp(timestamp: number, previous: { readonly timestamp: number; readonly extended: number } | undefined): number {
  if (previous === undefined) return timestamp;
  return previous.extended + ((timestamp - previous.timestamp) | 0);
}

export class RtpClock {
  /** Re-anchors within a session: the camera's clock jumped or drifted past the bounds, or its stream restarted. */
  resets = 0;
  /** The last picture's arrival minus its time, ms: how far behind arrival the camera's clock puts it (negative: ahead). */
  lagMs = 0;
  private ticksPerMs: number;
  private readonly maxAheadMs: number;
  private readonly maxBehindMs: number;
  private last: { timestamp: number; extended: number } | undefined;
  private anchor: { wallMs: number; extended: number } | undefined;

  constructor(options: RtpClockOptions) {
    this.ticksPerMs = ticksPerMs(options.clockRate);
    this.maxAheadMs = options.maxAheadMs ?? 1000;
    this.maxBehindMs = options.maxBehindMs ?? 10_000;
  }

  /** The wall-clock time (ms) of a picture with this RTP timestamp that arrived at `arrivalMs`. */
  time(timestamp: number, arrivalMs: number): number {
    const extended = unwrapRtpTimestamp(timestamp >>> 0, this.last);
    this.last = { timestamp: timestamp >>> 0, extended };
    if (this.anchor === undefined) this.anchor = { wallMs: arrivalMs, extended };
    let t = this.anchor.wallMs + (extended - this.anchor.extended) / this.ticksPerMs;
    if (t - arrivalMs > this.maxAheadMs || arrivalMs - t > this.maxBehindMs) {
      this.anchor = { wallMs: arrivalMs, extended };
      this.resets += 1;
      t = arrivalMs;
    }
    this.lagMs = arrivalMs - t;
    return t;
  }

  /** A new session (a reconnect), whose SDP may give another clock rate: its first picture anchors the clock afresh, not counted as a reset. */
  restart(clockRate?: number): void {
    if (clockRate !== undefined) this.ticksPerMs = ticksPerMs(clockRate);
    this.anchor = undefined;
    this.last = undefined;
  }

  /** The stream restarted within a session (a new SSRC, or new sequence numbering): its timestamps start elsewhere. Counted. */
  reanchor(): void {
    if (this.anchor !== undefined) this.resets += 1;
    this.restart();
  }
}

function ticksPerMs(clockRate: number): number {
  if (!(Number.isFinite(clockRate) && clockRate > 0)) throw new RangeError(`an RTP clock rate must be a positive number of ticks per second, got ${clockRate}`);
  return clockRate / 1000;
}
