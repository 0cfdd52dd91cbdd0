import type { VideoDecoder, VideoFrame } from 'node-webcodecs';
import { FrameBufferPool, packedLayout, type RawFrame } from '../../runtime/pipeline/frame.js';
import { codecStringFromSps, type AccessUnit } from './annexb.js';
import { loadWebCodecs, type WebCodecs } from './webcodecs.js';

/**
 * One H.264 decoder for one camera, around node-webcodecs' VideoDecoder, made safe for a
 * stream that breaks:
 * - it is configured from the stream's own SPS, and replaced only when the SPS bytes change
 *   (create/close cycles can crash the process at exit, and reset() or a second
 *   configure() aborts it natively, so neither is ever called);
 * - after a decode error it drops delta pictures until the next keyframe (decoding goes
 *   on from a broken reference otherwise, and the native side recovers by itself there);
 * - it bounds the pictures in flight with its own count: `decodeQueueSize` drops to 0 at
 *   the next tick whatever the native side is doing;
 * - each picture is copied into a fresh buffer and the native frame closed at once (an
 *   unclosed 720p frame leaks about 1.4 MB).
 * It never sends an empty chunk: one puts the decoder into end-of-stream for good.
 */

export interface DecoderCounters {
  /** Access units handed to the native decoder. */
  submitted: number;
  /** Pictures decoded and handed on. */
  decoded: number;
  /** Pictures decoded but not wanted (sampling): closed without a copy. */
  skipped: number;
  /** Error callbacks (about one per broken access unit). */
  decodeErrors: number;
  /** Access units dropped while waiting for a keyframe (start of stream, after an error, no SPS yet). */
  droppedUntilKey: number;
  /** Access units dropped because `maxPending` were in flight (the caller did not wait for space). */
  droppedBusy: number;
  /** Pictures decoded after an error from units already in flight (from a broken reference): not handed on. */
  discardedAfterError: number;
  /** Access units that never produced a picture or an error (reconciled from later output). */
  lost: number;
  /** Pictures in a layout the pipeline does not take (not 8-bit 4:2:0, odd size). */
  unsupported: number;
  /** Native decoders created (1 + SPS changes). */
  decoders: number;
}

export interface H264DecoderOptions {
  /** Receives every decoded picture as a tightly packed I420 frame. */
  readonly onFrame: (frame: RawFrame) => void;
  /** Asked before a picture is copied out; false skips the copy (P-frames are decoded regardless). */
  readonly want?: (timestampUs: number) => boolean;
  /** Access units in flight at most. Default 4: more adds latency, not throughput. */
  readonly maxPending?: number;
  /** With nothing coming back for this long, in-flight units are written off as lost. */
  readonly stallMs?: number;
}

export class H264Decoder {
  readonly counters: DecoderCounters = { submitted: 0, decoded: 0, skipped: 0, decodeErrors: 0, droppedUntilKey: 0, droppedBusy: 0, discardedAfterError: 0, lost: 0, unsupported: 0, decoders: 0 };
  lastError: string | null = null;
  private decoder: VideoDecoder | undefined;
  /** Bumped per native decoder, so late callbacks of a closed one are ignored. */
  private generation = 0;
  private sps: Uint8Array | undefined;
  private needKey = true;
  /** After an error, pictures up to this timestamp were decoded from a broken reference. */
  private discardUpToUs = -Infinity;
  private lastSubmittedUs = -Infinity;
  /**
   * Units written off as lost by a later picture whose error may still come: error and output
   * callbacks are not ordered (an error can arrive after the next pictures' output).
   */
  private unexplained: number[] = [];
  private lastKeySubmittedUs = -Infinity;
  /** Timestamps submitted and not yet answered, oldest first (timestamps increase). */
  private inFlight: number[] = [];
  private wakers: (() => void)[] = [];
  private readonly maxPending: number;
  /** Buffers the vision stage handed back (RawFrame.release). */
  private readonly pool = new FrameBufferPool();
  private readonly stallMs: number;
  private readonly codecs: WebCodecs;

  constructor(private readonly options: H264DecoderOptions) {
    this.codecs = loadWebCodecs();
    this.maxPending = options.maxPending ?? 4;
    this.stallMs = options.stallMs ?? 2000;
  }

  get pending(): number {
    return this.inFlight.length;
  }

  /**
   * Submits one access unit with a timestamp (µs, increasing); the picture comes back
   * through `onFrame` with the same timestamp. Returns false when it was dropped: no
   * decoder yet, waiting for a keyframe, or too many in flight (await `waitForSpace`).
   */
  decode(au: AccessUnit, timestampUs: number): boolean {
    if (au.sps !== undefined && !sameBytes(au.sps, this.sps)) this.open(au.sps);
    if (this.decoder === undefined || (this.needKey && !au.key)) {
      this.counters.droppedUntilKey += 1;
      return false;
    }
    if (this.inFlight.length >= this.maxPending) {
      this.counters.droppedBusy += 1;
      return false;
    }
    if (au.key) this.needKey = false;
    try {
      this.decoder.decode(new this.codecs.EncodedVideoChunk({ type: au.key ? 'key' : 'delta', timestamp: timestampUs, data: au.data }));
    } catch (err) {
      // A decoder that throws is broken: the next SPS (keyframe) opens a new one.
      this.fail(`decode: ${(err as Error).message}`);
      this.sps = undefined;
      return false;
    }
    this.inFlight.push(timestampUs);
    this.lastSubmittedUs = timestampUs;
    if (au.key) this.lastKeySubmittedUs = timestampUs;
    this.counters.submitted += 1;
    return true;
  }

  /**
   * `decode` for a caller that can wait: waits for space, and before a new SPS lets the old
   * decoder finish the pictures it has in flight (closing it would lose them).
   */
  async submit(au: AccessUnit, timestampUs: number, signal?: AbortSignal): Promise<boolean> {
    if (au.sps !== undefined && !sameBytes(au.sps, this.sps)) await this.idle(signal);
    await this.waitForSpace(signal);
    if (signal?.aborted === true) return false;
    return this.decode(au, timestampUs);
  }

  /** Resolves when another access unit may be submitted (or `signal` aborts). */
  async waitForSpace(signal?: AbortSignal): Promise<void> {
    while (this.inFlight.length >= this.maxPending && signal?.aborted !== true) await this.progress(signal);
  }

  /** Resolves when every submitted access unit was answered (or written off). */
  async idle(signal?: AbortSignal): Promise<void> {
    while (this.inFlight.length > 0 && signal?.aborted !== true) await this.progress(signal);
  }

  close(): void {
    this.generation += 1;
    this.closeNative();
    this.inFlight = [];
    this.wakeUp();
  }

  private open(sps: Uint8Array): void {
    this.closeNative();
    this.sps = sps;
    this.needKey = true;
    this.counters.lost += this.inFlight.length;
    this.inFlight = [];
    this.unexplained = [];
    const generation = ++this.generation;
    try {
      const decoder = new this.codecs.VideoDecoder({
        output: (frame) => this.onOutput(frame, generation),
        error: () => this.onError(generation),
      });
      // Without optimizeForLatency, output lags two pictures and timestamps come out wrong.
      decoder.configure({ codec: codecStringFromSps(sps), optimizeForLatency: true });
      this.decoder = decoder;
      this.counters.decoders += 1;
    } catch (err) {
      // Remembering the SPS means the same unsupported stream is not retried on every keyframe.
      this.fail(`configure: ${(err as Error).message}`);
    }
  }

  private closeNative(): void {
    const d = this.decoder;
    this.decoder = undefined;
    if (d !== undefined && d.state !== 'closed') {
      try {
        d.close();
      } catch {
        // Already closed by the native side: nothing to release.
      }
    }
  }

  private fail(message: string): void {
    this.lastError = message;
    this.closeNative();
    this.needKey = true;
  }

  private onOutput(frame: VideoFrame, generation: number): void {
    try {
      if (generation !== this.generation) return;
      const ts = frame.timestamp;
      // Units older than this picture that never answered are gone.
      while (this.inFlight.length > 0 && (this.inFlight[0] as number) < ts) {
        this.counters.lost += 1;
        if (this.unexplained.push(this.inFlight.shift() as number) > this.maxPending) this.unexplained.shift();
      }
      if (this.inFlight[0] === ts) this.inFlight.shift();
      this.wakeUp();
      if (ts <= this.discardUpToUs) {
        this.counters.discardedAfterError += 1;
        return;
      }
      if (this.options.want !== undefined && !this.options.want(ts)) {
        this.counters.skipped += 1;
        return;
      }
      const width = frame.codedWidth;
      const height = frame.codedHeight;
      const { layout, size } = packedLayout('I420', width, height);
      if (frame.format !== 'I420' || width % 2 !== 0 || height % 2 !== 0 || frame.allocationSize() !== size) {
        this.counters.unsupported += 1;
        this.lastError = `unsupported picture ${frame.format ?? 'unknown'} ${width}x${height}`;
        return;
      }
      const data = this.pool.take(size);
      // node-webcodecs copies synchronously inside copyTo; the promise only carries the layout,
      // which is the packed one computed above.
      frame.copyTo(data).catch(() => undefined);
      this.counters.decoded += 1;
      let released = false;
      const release = (): void => {
        if (released) return;
        released = true;
        this.pool.give(data);
      };
      this.options.onFrame({ format: 'I420', width, height, data, layout, timestampUs: ts, release });
    } finally {
      frame.close();
    }
  }

  private onError(generation: number): void {
    if (generation !== this.generation) return;
    // The message starts with garbage bytes from the native side: counted, not logged.
    this.counters.decodeErrors += 1;
    this.lastError = 'decode error';
    // The error is the oldest unanswered unit's: one already passed by later output, or else
    // the oldest in flight.
    let brokenUs = this.unexplained.shift();
    if (brokenUs !== undefined) this.counters.lost -= 1;
    else brokenUs = this.inFlight.shift();
    if (brokenUs !== undefined && brokenUs < this.lastKeySubmittedUs) {
      // A late error: a keyframe went in after the broken unit, so decoding has recovered
      // already; only pictures between the two are damaged.
      this.discardUpToUs = Math.max(this.discardUpToUs, this.lastKeySubmittedUs - 1);
    } else {
      // Units submitted after the broken one reference it: their pictures are damaged (those
      // whose output came before this callback are out already).
      this.needKey = true;
      this.discardUpToUs = this.lastSubmittedUs;
    }
    this.wakeUp();
  }

  private wakeUp(): void {
    const wakers = this.wakers;
    this.wakers = [];
    for (const w of wakers) w();
  }

  /** Waits for an answer from the decoder, or writes the oldest in-flight unit off after `stallMs`. */
  private async progress(signal?: AbortSignal): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const onAbort = (): void => this.wakeUp();
    signal?.addEventListener('abort', onAbort, { once: true });
    const answered = await new Promise<boolean>((resolve) => {
      this.wakers.push(() => resolve(true));
      timer = setTimeout(() => resolve(false), this.stallMs);
    });
    clearTimeout(timer);
    signal?.removeEventListener('abort', onAbort);
    if (!answered && this.inFlight.length > 0) {
      this.inFlight.shift();
      this.counters.lost += 1;
    }
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array | undefined): boolean {
  if (b === undefined || a.length !== b.length) return false;
  for (let i = 0; i < a.length; i += 1) if (a[i] !== b[i]) return false;
  return true;
}
