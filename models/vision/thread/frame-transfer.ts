import type { PixelFormat, PlaneLayout, RawFrame } from '../../../runtime/pipeline/frame.js';

/** A frame as it goes to the inference worker: its pixels in shared memory, never copied by postMessage. */
export interface FrameMessage {
  readonly format: PixelFormat;
  readonly width: number;
  readonly height: number;
  /** A view of a SharedArrayBuffer: the worker reads the same memory. */
  readonly data: Uint8Array;
  readonly layout: readonly PlaneLayout[];
  readonly timestampUs: number;
}

/**
 * Shared buffers for frames whose pixels are not in shared memory already (frames from a
 * test, the simulator, a source that allocates its own), one per frame in flight. Frames from
 * the camera decoder are in shared memory (FrameBufferPool) and go as they are.
 */
export class SharedFrameSlots {
  private readonly free: Uint8Array[] = [];

  constructor(private readonly max: number) {}

  /**
   * The frame as a message, and the shared buffer it was copied into (give it back with
   * `give` once the worker answered), or undefined when it went without a copy.
   */
  message(frame: RawFrame): { message: FrameMessage; slot: Uint8Array | undefined } {
    const base = { format: frame.format, width: frame.width, height: frame.height, layout: frame.layout.map((p) => ({ offset: p.offset, stride: p.stride })), timestampUs: frame.timestampUs };
    if (frame.data.buffer instanceof SharedArrayBuffer) return { message: { ...base, data: frame.data }, slot: undefined };
    const n = frame.data.length;
    let i = this.free.findIndex((b) => b.buffer.byteLength >= n);
    if (i < 0 && this.free.length > 0) i = 0;
    const found = i < 0 ? undefined : this.free.splice(i, 1)[0];
    const slot = found !== undefined && found.buffer.byteLength >= n ? found : new Uint8Array(new SharedArrayBuffer(n));
    const data = slot.subarray(0, n);
    data.set(frame.data);
    return { message: { ...base, data }, slot };
  }

  give(slot: Uint8Array): void {
    if (this.free.length < this.max) this.free.push(new Uint8Array(slot.buffer));
  }
}

/** The frame the worker reads (no `release`: the stage hands the frame back when the worker answered). */
export function frameOf(m: FrameMessage): RawFrame {
  return { format: m.format, width: m.width, height: m.height, data: m.data, layout: m.layout, timestampUs: m.timestampUs };
}
