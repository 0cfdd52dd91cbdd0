import { checkFrame, type RawFrame } from '../../runtime/pipeline/frame.js';
import { insideZone, type Zone } from './geometry.js';
import { PlaneResampler } from './resample.js';

export interface MotionOptions {
  /** Width of the downscaled luma plane the difference is taken on (height keeps the aspect). */
  readonly width: number;
  /** A pixel changed when its downscaled luma moved by more than this many grey levels. */
  readonly pixelThreshold: number;
  /** Motion when at least this share of a zone's pixels changed. */
  readonly minShare: number;
  /** Polygons in source-frame pixels; empty: the whole frame. */
  readonly zones: readonly Zone[];
  /** Let a frame through at least this often even without motion (0: never). */
  readonly keepAliveMs: number;
}

export type GateReason = 'first' | 'motion' | 'keepalive' | 'still';

export interface GateDecision {
  readonly pass: boolean;
  readonly reason: GateReason;
  /** Highest share of changed pixels over the zones. */
  readonly share: number;
}

/**
 * Decides which frames are worth inference: the frame's luma, area-downscaled to a few
 * thousand pixels, against the previous frame's, counted inside each zone. A still belt
 * costs one small resample and a subtraction per frame.
 */
export class MotionGate {
  private resampler: PlaneResampler | undefined;
  private masks: Uint8Array[] = [];
  private zonePixels: number[] = [];
  private prev = new Float32Array(0);
  private cur = new Float32Array(0);
  private size = '';
  private lastPassUs = Number.NEGATIVE_INFINITY;

  constructor(readonly o: MotionOptions) {}

  private setup(f: RawFrame): PlaneResampler {
    const key = `${f.width}x${f.height}`;
    if (this.resampler !== undefined && this.size === key) return this.resampler;
    const w = Math.max(8, Math.min(f.width, this.o.width));
    const h = Math.max(4, Math.round((f.height * w) / f.width));
    // A block's mean from every fourth pixel of every fourth row is plenty to see a part move; 16x cheaper.
    this.resampler = new PlaneResampler(f.width, f.height, w, h, 4);
    this.prev = new Float32Array(w * h);
    this.cur = new Float32Array(w * h);
    const zones = this.o.zones.length === 0 ? [null] : this.o.zones;
    this.masks = zones.map((z) => {
      const m = new Uint8Array(w * h);
      for (let j = 0; j < h; j += 1) for (let i = 0; i < w; i += 1) m[j * w + i] = z === null || insideZone(z, ((i + 0.5) * f.width) / w, ((j + 0.5) * f.height) / h) ? 1 : 0;
      return m;
    });
    this.zonePixels = this.masks.map((m) => m.reduce((a, b) => a + b, 0));
    this.size = key;
    this.lastPassUs = Number.NEGATIVE_INFINITY;
    return this.resampler;
  }

  check(f: RawFrame): GateDecision {
    checkFrame(f);
    const first = this.size !== `${f.width}x${f.height}`;
    const r = this.setup(f);
    const y = f.layout[0] as { offset: number; stride: number };
    const luma = f.format === 'RGBA' ? 1 : 0; // RGBA: the green byte stands in for luma
    r.run(f.data, y.offset + luma, y.stride, f.format === 'RGBA' ? 4 : 1, this.cur, 0, r.dstWidth);
    let share = 0;
    if (!first) {
      this.masks.forEach((m, z) => {
        let changed = 0;
        for (let i = 0; i < m.length; i += 1) if (m[i] === 1 && Math.abs((this.cur[i] as number) - (this.prev[i] as number)) > this.o.pixelThreshold) changed += 1;
        const n = this.zonePixels[z] as number;
        share = Math.max(share, n === 0 ? 0 : changed / n);
      });
    }
    [this.prev, this.cur] = [this.cur, this.prev];
    let reason: GateReason = first ? 'first' : share >= this.o.minShare && share > 0 ? 'motion' : 'still';
    if (reason === 'still' && this.o.keepAliveMs > 0 && f.timestampUs - this.lastPassUs >= this.o.keepAliveMs * 1000) reason = 'keepalive';
    const pass = reason !== 'still';
    if (pass) this.lastPassUs = f.timestampUs;
    return { pass, reason, share };
  }
}
