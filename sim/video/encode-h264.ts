import type { EncodedVideoChunk, VideoEncoder } from 'node-webcodecs';
import { loadWebCodecs, type WebCodecs } from '../../devices/camera/webcodecs.js';

/**
 * H.264 encoding of I420 pictures to an Annex B byte stream, through node-webcodecs
 * (libopenh264: Constrained Baseline whatever the codec string says). For tests and the
 * simulator's camera clips; a gateway never encodes.
 *
 * libopenh264 has no GOP setting: a keyframe comes every `framerate` frames, and forcing
 * one restarts that count.
 */

export interface H264WriterOptions {
  readonly width: number;
  readonly height: number;
  /** Frames per second; also the keyframe interval in frames. Default 30. */
  readonly framerate?: number;
  /** Bits per second. Default 2 bits per pixel per second-ish: width * height * 2. */
  readonly bitrate?: number;
  /** Receives each encoded picture as it comes (SPS+PPS+IDR for a keyframe); without it `end()` returns them all. */
  readonly onChunk?: (bytes: Uint8Array, key: boolean) => void;
}

/** A picture: one packed I420 buffer (Y, then U, then V, tightly packed) or its three planes. */
export type I420Picture = Uint8Array | { readonly y: Uint8Array; readonly u: Uint8Array; readonly v: Uint8Array };

/** Encodes in flight at most; beyond, `write` waits (the encoder runs on its own thread). */
const MAX_PENDING = 8;

export class H264Writer {
  private readonly encoder: VideoEncoder;
  private readonly codecs: WebCodecs = loadWebCodecs();
  private readonly chunks: Uint8Array[] = [];
  private readonly frameSize: number;
  private readonly framerate: number;
  private submitted = 0;
  private outputs = 0;
  private failure: Error | undefined;
  private wake: (() => void) | undefined;
  private closed = false;
  /** Indices of the pictures that came out as keyframes. */
  readonly keyframes: number[] = [];

  constructor(private readonly options: H264WriterOptions) {
    const { width, height } = options;
    if (!(Number.isInteger(width) && Number.isInteger(height) && width > 0 && height > 0 && width % 2 === 0 && height % 2 === 0)) {
      throw new RangeError(`H264Writer: width and height must be even positive integers, got ${width}x${height}`);
    }
    this.framerate = options.framerate ?? 30;
    this.frameSize = (width * height * 3) / 2;
    this.encoder = new this.codecs.VideoEncoder({
      output: (chunk) => this.onOutput(chunk),
      error: (err) => {
        this.failure = new Error(`H.264 encoder failed: ${err.message}`);
        this.wake?.();
      },
    });
    this.encoder.configure({
      codec: 'avc1.42001f',
      width,
      height,
      bitrate: options.bitrate ?? width * height * 2,
      framerate: this.framerate,
      latencyMode: 'realtime',
      // libopenh264 is what it gets anyway; asking for hardware first makes FFmpeg probe
      // NVENC and log three lines about a missing libcuda on every box without one.
      hardwareAcceleration: 'prefer-software',
      avc: { format: 'annexb' },
    });
  }

  /** Frames written so far. */
  get frames(): number {
    return this.submitted;
  }

  /** Encodes one picture; `keyFrame` forces an IDR (and restarts the keyframe count). */
  async write(picture: I420Picture, opts: { keyFrame?: boolean } = {}): Promise<void> {
    if (this.closed) throw new Error('H264Writer: write after end');
    if (this.failure !== undefined) throw this.failure;
    const data = picture instanceof Uint8Array ? picture : concatPlanes(picture);
    // The native side reads width*height*1.5 bytes whatever it is given: check here.
    if (data.length !== this.frameSize) throw new RangeError(`H264Writer: an I420 ${this.options.width}x${this.options.height} picture is ${this.frameSize} bytes, got ${data.length}`);
    const frame = new this.codecs.VideoFrame(data, { format: 'I420', codedWidth: this.options.width, codedHeight: this.options.height, timestamp: Math.round((this.submitted * 1e6) / this.framerate) });
    this.encoder.encode(frame, { keyFrame: opts.keyFrame === true || this.submitted === 0 });
    frame.close();
    this.submitted += 1;
    while (this.submitted - this.outputs > MAX_PENDING && this.failure === undefined) await new Promise<void>((resolve) => (this.wake = resolve));
    if (this.failure !== undefined) throw this.failure;
  }

  /** Flushes and closes the encoder; returns the whole stream when no `onChunk` was given. */
  async end(): Promise<Uint8Array> {
    if (!this.closed) {
      this.closed = true;
      await this.encoder.flush();
      this.encoder.close();
    }
    if (this.failure !== undefined) throw this.failure;
    return concat(this.chunks);
  }

  private onOutput(chunk: EncodedVideoChunk): void {
    const bytes = new Uint8Array(chunk.byteLength);
    chunk.copyTo(bytes);
    const key = chunk.type === 'key';
    if (key) this.keyframes.push(this.outputs);
    this.outputs += 1;
    if (this.options.onChunk !== undefined) this.options.onChunk(bytes, key);
    else this.chunks.push(bytes);
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }
}

/** Encodes a clip in one call: `frames` pictures from `picture(i)`, keyframes every `framerate` frames. */
export async function encodeH264(options: Omit<H264WriterOptions, 'onChunk'> & { frames: number; picture: (index: number) => I420Picture }): Promise<Uint8Array> {
  const writer = new H264Writer(options);
  try {
    for (let i = 0; i < options.frames; i += 1) await writer.write(options.picture(i));
  } finally {
    await writer.end().catch(() => undefined);
  }
  return writer.end();
}

function concatPlanes(p: { y: Uint8Array; u: Uint8Array; v: Uint8Array }): Uint8Array {
  return concat([p.y, p.u, p.v]);
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}
