import { checkFrame, type PixelFormat, type RawFrame } from '../../runtime/pipeline/frame.js';
import { letterbox, type Letterbox } from './letterbox.js';
import { blockSums4, PlaneResampler } from './resample.js';

export interface PreprocessOptions {
  /** Model input size. */
  readonly width: number;
  readonly height: number;
  /** 1: luma only (grey); 3: RGB. */
  readonly channels: 1 | 3;
  /** Applied to values scaled to 0..1: (v - mean) / std per channel. */
  readonly mean: readonly number[];
  readonly std: readonly number[];
  /** Padding value (0..255), YOLO's grey by default. */
  readonly pad?: number;
}

/**
 * A frame to a model's NCHW float32 input: letterbox resize (area filter), colour conversion,
 * normalisation. Buffers are allocated once per source size and reused, so the hot path
 * allocates nothing: the returned tensor data is valid until the next `run`.
 * Resampling happens on the planes first and colour conversion after, at the (small) input
 * size: cheaper than converting every source pixel, and the same result since both are linear.
 */
export class Preprocessor {
  private readonly out: Float32Array;
  private readonly planes: Float32Array;
  private state: { key: string; box: Letterbox; luma: PlaneResampler; chroma?: PlaneResampler; grey?: GreyBlocks } | undefined;

  constructor(readonly o: PreprocessOptions) {
    if (o.mean.length !== o.channels || o.std.length !== o.channels) throw new RangeError(`preprocess: mean and std need ${o.channels} values`);
    this.out = new Float32Array(o.channels * o.width * o.height);
    this.planes = new Float32Array(3 * o.width * o.height);
  }

  get dims(): number[] {
    return [1, this.o.channels, this.o.height, this.o.width];
  }

  /** The letterbox of the last frame (to map boxes back). */
  get letterbox(): Letterbox | undefined {
    return this.state?.box;
  }

  private setup(format: PixelFormat, w: number, h: number): NonNullable<Preprocessor['state']> {
    const key = `${format}:${w}x${h}`;
    if (this.state?.key === key) return this.state;
    const box = letterbox(w, h, this.o.width, this.o.height);
    const luma = new PlaneResampler(w, h, box.innerWidth, box.innerHeight);
    const chroma = format === 'RGBA' ? undefined : new PlaneResampler(Math.ceil(w / 2), Math.ceil(h / 2), box.innerWidth, box.innerHeight);
    const grey = format !== 'RGBA' && this.o.channels === 1 ? greyBlocks(w, h, box, this.o) : undefined;
    this.state = { key, box, luma, ...(chroma === undefined ? {} : { chroma }), ...(grey === undefined ? {} : { grey }) };
    return this.state;
  }

  run(frame: RawFrame): Float32Array {
    checkFrame(frame);
    const { box, luma, chroma, grey } = this.setup(frame.format, frame.width, frame.height);
    const { width: W, height: H, channels, mean, std } = this.o;
    if (grey !== undefined && this.runGrey(frame, box, grey)) return this.out;
    const plane = box.innerWidth * box.innerHeight;
    const p = this.planes;
    const L = frame.layout;
    // Planes at the inner size: [0] Y or R, [1] U or G, [2] V or B.
    if (frame.format === 'RGBA') {
      const c0 = L[0] as { offset: number; stride: number };
      for (let c = 0; c < 3; c += 1) luma.run(frame.data, c0.offset + c, c0.stride, 4, p, c * plane, box.innerWidth);
    } else {
      const y = L[0] as { offset: number; stride: number };
      luma.run(frame.data, y.offset, y.stride, 1, p, 0, box.innerWidth);
      if (channels === 3) {
        const cr = chroma as PlaneResampler;
        const u = L[1] as { offset: number; stride: number };
        if (frame.format === 'I420') {
          const v = L[2] as { offset: number; stride: number };
          cr.run(frame.data, u.offset, u.stride, 1, p, plane, box.innerWidth);
          cr.run(frame.data, v.offset, v.stride, 1, p, 2 * plane, box.innerWidth);
        } else {
          cr.run(frame.data, u.offset, u.stride, 2, p, plane, box.innerWidth);
          cr.run(frame.data, u.offset + 1, u.stride, 2, p, 2 * plane, box.innerWidth);
        }
      }
    }
    const pad = (this.o.pad ?? 114) / 255;
    for (let c = 0; c < channels; c += 1) {
      const padded = (pad - (mean[c] as number)) / (std[c] as number);
      this.out.fill(padded, c * W * H, (c + 1) * W * H);
    }
    const yuv = frame.format !== 'RGBA';
    for (let j = 0; j < box.innerHeight; j += 1) {
      for (let i = 0; i < box.innerWidth; i += 1) {
        const s = j * box.innerWidth + i;
        const d = (j + box.padY) * W + i + box.padX;
        let r: number;
        let g: number;
        let b: number;
        if (yuv) {
          // BT.601 limited range (what H.264 decoders hand out unless the stream says otherwise).
          const yy = 1.164 * ((p[s] as number) - 16);
          if (channels === 1) {
            this.out[d] = (Math.min(255, Math.max(0, yy)) / 255 - (mean[0] as number)) / (std[0] as number);
            continue;
          }
          const u = (p[plane + s] as number) - 128;
          const v = (p[2 * plane + s] as number) - 128;
          r = yy + 1.596 * v;
          g = yy - 0.392 * u - 0.813 * v;
          b = yy + 2.017 * u;
        } else {
          r = p[s] as number;
          g = p[plane + s] as number;
          b = p[2 * plane + s] as number;
          if (channels === 1) {
            this.out[d] = ((0.299 * r + 0.587 * g + 0.114 * b) / 255 - (mean[0] as number)) / (std[0] as number);
            continue;
          }
        }
        this.out[d] = (Math.min(255, Math.max(0, r)) / 255 - (mean[0] as number)) / (std[0] as number);
        this.out[W * H + d] = (Math.min(255, Math.max(0, g)) / 255 - (mean[1] as number)) / (std[1] as number);
        this.out[2 * W * H + d] = (Math.min(255, Math.max(0, b)) / 255 - (mean[2] as number)) / (std[2] as number);
      }
    }
    return this.out;
  }

  /** The grey fast path: integer block sums of the luma plane, each mapped to its input value by the table. */
  private runGrey(frame: RawFrame, box: Letterbox, g: GreyBlocks): boolean {
    const y = frame.layout[0] as { offset: number; stride: number };
    if (!blockSums4(frame.data, y.offset, y.stride, g.kx, g.ky, box.innerWidth, box.innerHeight, g.sums)) return false;
    const W = this.o.width;
    this.out.fill(g.padded);
    const { sums, table } = g;
    for (let j = 0; j < box.innerHeight; j += 1) {
      const s = j * box.innerWidth;
      const d = (j + box.padY) * W + box.padX;
      for (let i = 0; i < box.innerWidth; i += 1) this.out[d + i] = table[sums[s + i] as number] as number;
    }
    return true;
  }
}

/** What the grey fast path needs for one source size: whole block sizes, the sums, and the table from a block's sum to the input value. */
interface GreyBlocks {
  readonly kx: number;
  readonly ky: number;
  readonly sums: Int32Array;
  readonly table: Float32Array;
  readonly padded: number;
}

/**
 * The grey fast path applies when the luma plane shrinks by whole factors (1280x720 into a
 * 320-wide input: 4x4 blocks) that `blockSums4` can add up. A block's sum then says everything:
 * the table holds, for each possible sum, the normalised input value (BT.601 limited range, as
 * in the general path), so a pixel costs one lookup.
 */
function greyBlocks(w: number, h: number, box: Letterbox, o: PreprocessOptions): GreyBlocks | undefined {
  if (w % box.innerWidth !== 0 || h % box.innerHeight !== 0) return undefined;
  const kx = w / box.innerWidth;
  const ky = h / box.innerHeight;
  if (kx % 4 !== 0 || kx * ky > 256) return undefined;
  const n = kx * ky;
  const mean = o.mean[0] as number;
  const std = o.std[0] as number;
  const table = Float32Array.from({ length: 255 * n + 1 }, (_, s) => (Math.min(255, Math.max(0, 1.164 * (s / n - 16))) / 255 - mean) / std);
  return { kx, ky, sums: new Int32Array(box.innerWidth * box.innerHeight), table, padded: ((o.pad ?? 114) / 255 - mean) / std };
}
