/**
 * Area (box-filter) resampling of one 8-bit channel, separable, with weight tables computed
 * once per size: every output pixel is the mean of the source pixels it covers, so a 4x
 * downscale does not alias thin features away (a scratch, a hole). No allocation per call.
 */
interface Taps {
  readonly start: Int32Array;
  readonly count: Int32Array;
  readonly weights: Float32Array;
  readonly first: Int32Array;
}

function taps(src: number, dst: number): Taps {
  const ratio = src / dst;
  const start = new Int32Array(dst);
  const count = new Int32Array(dst);
  const first = new Int32Array(dst);
  const w: number[] = [];
  for (let i = 0; i < dst; i += 1) {
    const lo = i * ratio;
    const hi = Math.min(src, (i + 1) * ratio);
    const s = Math.min(src - 1, Math.floor(lo));
    const e = Math.max(s + 1, Math.min(src, Math.ceil(hi)));
    start[i] = s;
    count[i] = e - s;
    first[i] = w.length;
    let total = 0;
    const local: number[] = [];
    for (let k = s; k < e; k += 1) {
      // Overlap of source pixel [k, k+1) with [lo, hi) (at least a sliver when upscaling).
      const o = Math.max(1e-6, Math.min(k + 1, hi) - Math.max(k, lo));
      local.push(o);
      total += o;
    }
    for (const o of local) w.push(o / total);
  }
  return { start, count, weights: Float32Array.from(w), first };
}

export class PlaneResampler {
  private readonly xt: Taps;
  private readonly yt: Taps;
  /** Horizontal pass result: srcHeight rows x dstWidth. */
  private readonly tmp: Float32Array;

  constructor(
    readonly srcWidth: number,
    readonly srcHeight: number,
    readonly dstWidth: number,
    readonly dstHeight: number,
  ) {
    this.xt = taps(srcWidth, dstWidth);
    this.yt = taps(srcHeight, dstHeight);
    this.tmp = new Float32Array(srcHeight * dstWidth);
  }

  /**
   * Resamples the channel at `data[offset + y * stride + x * step]` into `out` (dstHeight rows
   * of dstWidth values written at `outOffset + y * outStride + x`), in source units (0..255).
   */
  run(data: Uint8Array, offset: number, stride: number, step: number, out: Float32Array, outOffset: number, outStride: number): void {
    const { xt, yt, tmp, dstWidth, srcHeight, dstHeight } = this;
    for (let y = 0; y < srcHeight; y += 1) {
      const row = offset + y * stride;
      const t = y * dstWidth;
      for (let i = 0; i < dstWidth; i += 1) {
        let s = 0;
        const w0 = xt.first[i] as number;
        let p = row + (xt.start[i] as number) * step;
        for (let k = 0, n = xt.count[i] as number; k < n; k += 1, p += step) s += (xt.weights[w0 + k] as number) * (data[p] as number);
        tmp[t + i] = s;
      }
    }
    for (let j = 0; j < dstHeight; j += 1) {
      const o = outOffset + j * outStride;
      const w0 = yt.first[j] as number;
      const r0 = yt.start[j] as number;
      const n = yt.count[j] as number;
      for (let i = 0; i < dstWidth; i += 1) out[o + i] = 0;
      for (let k = 0; k < n; k += 1) {
        const w = yt.weights[w0 + k] as number;
        const t = (r0 + k) * dstWidth;
        for (let i = 0; i < dstWidth; i += 1) out[o + i] = (out[o + i] as number) + w * (tmp[t + i] as number);
      }
    }
  }
}
