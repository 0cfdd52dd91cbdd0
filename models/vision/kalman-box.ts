import type { Box } from './geometry.js';

/**
 * How much a box is trusted to move steadily. Every figure is relative to the box's size
 * (the mean of its width and height), so one setting serves a 40-px part at 360p and a
 * 400-px person at 1080p; times are in seconds, so it does not depend on the frame rate.
 */
export interface KalmanBoxNoise {
  /** Standard deviation of a measured coordinate (detector jitter), in box sizes. */
  readonly measurement: number;
  /** Random walk of a coordinate beyond steady motion, in box sizes per √s. */
  readonly position: number;
  /** Random change of velocity (a belt starting or stopping), in box sizes per s per √s. */
  readonly acceleration: number;
  /** Standard deviation of the unknown velocity of a new box, in box sizes per second. */
  readonly initialVelocity: number;
}

/** Measured on the conveyor clips and the scripted crossings (test/models/vision/tracker.test.ts). */
export const KALMAN_BOX_NOISE: KalmanBoxNoise = { measurement: 0.05, position: 0.1, acceleration: 4, initialVelocity: 3 };

/**
 * A measured box whose area-like similarity to the predicted size (product of the sides'
 * min/max ratios) is below this is taken as partial; its measurement variance is multiplied
 * by the gain (standard deviation x4). Measured on the scripted occlusions in tracker.test.ts.
 */
const PARTIAL_BOX_SIMILARITY = 0.7;
const PARTIAL_BOX_NOISE_GAIN = 16;

/** One coordinate: position p and velocity v, with covariance [[a, b], [b, c]]. */
interface Axis {
  p: number;
  v: number;
  a: number;
  b: number;
  c: number;
}

/** Where a box is expected, and how uncertain its centre is (variances in px², measurement noise included). */
export interface BoxPrediction {
  readonly box: Box;
  readonly varX: number;
  readonly varY: number;
}

/**
 * A constant-velocity Kalman filter on a box's centre and size (cx, cy, w, h, each with its
 * velocity). Noise on each coordinate is independent of the others, so the 8-state filter
 * is exactly four 2-state filters, each a handful of multiplications; time steps may vary
 * (frames skipped by the motion gate, a camera at any rate).
 */
export class KalmanBox {
  private readonly axes: [Axis, Axis, Axis, Axis];

  constructor(
    box: Box,
    private readonly noise: KalmanBoxNoise = KALMAN_BOX_NOISE,
  ) {
    const s = KalmanBox.size(box.w, box.h);
    const a = (noise.measurement * s) ** 2;
    const c = (noise.initialVelocity * s) ** 2;
    const axis = (p: number): Axis => ({ p, v: 0, a, b: 0, c });
    this.axes = [axis(box.x + box.w / 2), axis(box.y + box.h / 2), axis(box.w), axis(box.h)];
  }

  /** A box's scale for the noise: the mean of its sides, at least one pixel. */
  private static size(w: number, h: number): number {
    return Math.max(1, (Math.abs(w) + Math.abs(h)) / 2);
  }

  private get scale(): number {
    return KalmanBox.size(this.axes[2].p, this.axes[3].p);
  }

  /** Velocity of the centre, in pixels per second. */
  get velocity(): { x: number; y: number } {
    return { x: this.axes[0].v, y: this.axes[1].v };
  }

  /** The box expected `dtS` seconds after the last update (nothing changes). */
  predict(dtS: number): BoxPrediction {
    const s = this.scale;
    const r = (this.noise.measurement * s) ** 2;
    const [x, y, w, h] = this.axes.map((ax) => KalmanBox.step(ax, dtS, s, this.noise));
    const pw = Math.max(1, (w as Axis).p);
    const ph = Math.max(1, (h as Axis).p);
    return { box: { x: (x as Axis).p - pw / 2, y: (y as Axis).p - ph / 2, w: pw, h: ph }, varX: (x as Axis).a + r, varY: (y as Axis).a + r };
  }

  /** A measured box `dtS` seconds after the last update: predict, then correct towards it. */
  update(box: Box, dtS: number): void {
    const s = this.scale;
    const predicted = this.axes.map((ax) => KalmanBox.step(ax, dtS, s, this.noise));
    // A box whose shape jumped is most likely part of the object (hidden behind another, or cut
    // by the frame's edge), not the object moved: it is followed, but trusted much less, so a
    // truncated box does not throw the velocity off.
    const similar = KalmanBox.similarity(box.w, (predicted[2] as Axis).p) * KalmanBox.similarity(box.h, (predicted[3] as Axis).p);
    const r = (this.noise.measurement * s) ** 2 * (similar < PARTIAL_BOX_SIMILARITY ? PARTIAL_BOX_NOISE_GAIN : 1);
    const z = [box.x + box.w / 2, box.y + box.h / 2, box.w, box.h];
    this.axes.forEach((ax, i) => {
      const p = predicted[i] as Axis;
      const S = p.a + r;
      const k0 = p.a / S;
      const k1 = p.b / S;
      const innovation = (z[i] as number) - p.p;
      ax.p = p.p + k0 * innovation;
      ax.v = p.v + k1 * innovation;
      ax.a = p.a * (r / S);
      ax.b = p.b * (r / S);
      ax.c = p.c - (p.b * p.b) / S;
    });
  }

  /** min(a, b) / max(a, b): 1 for equal sizes. */
  private static similarity(a: number, b: number): number {
    const lo = Math.min(Math.abs(a), Math.abs(b));
    const hi = Math.max(Math.abs(a), Math.abs(b));
    return hi > 0 ? lo / hi : 1;
  }

  /** One axis moved on by dt: x' = F x, P' = F P Fᵀ + Q (white-noise acceleration plus a position random walk). */
  private static step(ax: Axis, dt: number, s: number, noise: KalmanBoxNoise): Axis {
    const t = Math.max(0, dt);
    const qa = (noise.acceleration * s) ** 2;
    const qp = (noise.position * s) ** 2;
    return {
      p: ax.p + ax.v * t,
      v: ax.v,
      a: ax.a + 2 * ax.b * t + ax.c * t * t + qa * (t ** 3 / 3) + qp * t,
      b: ax.b + ax.c * t + qa * (t ** 2 / 2),
      c: ax.c + qa * t,
    };
  }
}
