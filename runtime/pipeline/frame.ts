/* Decoded pictures as they travel from camera sources to vision stages. */
/**
 * A decoded picture as the vision code reads it: one byte buffer with planes at offsets
 * and strides (the layout `VideoFrame.copyTo` returns), so frames from the decoder, the
 * simulator or a test need no conversion.
 * - I420: Y (width x height), U, V (each ceil(width/2) x ceil(height/2)).
 * - NV12: Y, then one plane of interleaved U,V pairs.
 * - RGBA: one plane, 4 bytes per pixel.
 */
export type PixelFormat = 'I420' | 'NV12' | 'RGBA';

export interface PlaneLayout {
  readonly offset: number;
  readonly stride: number;
}

export interface RawFrame {
  readonly format: PixelFormat;
  readonly width: number;
  readonly height: number;
  readonly data: Uint8Array;
  readonly layout: readonly PlaneLayout[];
  /** Presentation time, microseconds (the stream's clock). */
  readonly timestampUs: number;
  /**
   * The last consumer may hand the buffer back to its producer for reuse (a 720p frame is
   * 1.4 MB; at hundreds of frames a second fresh buffers keep the garbage collector busy).
   * The frame must not be read after. Frames dropped on the way are simply collected.
   */
  readonly release?: () => void;
}

/**
 * A few frame buffers for reuse, per size; empty: a fresh one. Buffers are shared memory
 * (SharedArrayBuffer), so a stage can hand a frame to a worker thread without copying it.
 */
export class FrameBufferPool {
  private readonly free = new Map<number, Uint8Array[]>();

  constructor(private readonly maxPerSize = 8) {}

  take(size: number): Uint8Array {
    return this.free.get(size)?.pop() ?? new Uint8Array(new SharedArrayBuffer(size));
  }

  give(buffer: Uint8Array): void {
    let list = this.free.get(buffer.length);
    if (list === undefined) {
      if (this.free.size >= 4) this.free.clear(); // the stream changed size: forget the old ones
      list = [];
      this.free.set(buffer.length, list);
    }
    if (list.length < this.maxPerSize && !list.includes(buffer)) list.push(buffer);
  }
}

/** The tightly packed layout of a frame of this format and size. */
export function packedLayout(format: PixelFormat, width: number, height: number): { layout: PlaneLayout[]; size: number } {
  const cw = Math.ceil(width / 2);
  const ch = Math.ceil(height / 2);
  if (format === 'RGBA') return { layout: [{ offset: 0, stride: width * 4 }], size: width * height * 4 };
  if (format === 'NV12') return { layout: [{ offset: 0, stride: width }, { offset: width * height, stride: cw * 2 }], size: width * height + cw * 2 * ch };
  return { layout: [{ offset: 0, stride: width }, { offset: width * height, stride: cw }, { offset: width * height + cw * ch, stride: cw }], size: width * height + 2 * cw * ch };
}

/** Checks that the planes the layout names lie inside the buffer (frames from outside are not trusted). */
export function checkFrame(f: RawFrame): void {
  const cw = Math.ceil(f.width / 2);
  const ch = Math.ceil(f.height / 2);
  const planes: [number, number][] = f.format === 'RGBA' ? [[f.width * 4, f.height]] : f.format === 'NV12' ? [[f.width, f.height], [cw * 2, ch]] : [[f.width, f.height], [cw, ch], [cw, ch]];
  if (!(f.width > 0 && f.height > 0) || f.layout.length !== planes.length) throw new RangeError(`frame ${f.format} ${f.width}x${f.height}: expected ${planes.length} planes, got ${f.layout.length}`);
  planes.forEach(([rowBytes, rows], i) => {
    const p = f.layout[i] as PlaneLayout;
    if (p.stride < rowBytes || p.offset < 0 || p.offset + p.stride * (rows - 1) + rowBytes > f.data.length) throw new RangeError(`frame ${f.format} ${f.width}x${f.height}: plane ${i} (offset ${p.offset}, stride ${p.stride}) does not fit in ${f.data.length} bytes`);
  });
}

/**
 * A record that carries a decoded picture from a camera source to a vision stage. Frames
 * never reach the store: the vision stage consumes them and emits events instead.
 */
export interface FrameRecordData {
  readonly frame: RawFrame;
  /** Frames the source dropped or skipped before this one (sampling, full queue), for the stage's counters. */
  readonly skippedBefore?: number;
}

export function isFrameRecordData(data: unknown): data is FrameRecordData {
  const f = (data as { frame?: Partial<RawFrame> } | null)?.frame;
  return f !== undefined && f !== null && f.data instanceof Uint8Array && typeof f.width === 'number' && typeof f.height === 'number' && Array.isArray(f.layout);
}
