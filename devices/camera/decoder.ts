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
 * - it gives each picture its own timestamp when the stream reorders (B-frames): FFmpeg
 *   then holds pictures back and node-webcodecs labels each output with the timestamp of
 *   the unit whose decoding let it out, not its own (see `identify`);
 * - `flush` gets the pictures FFmpeg still holds at the end of a file;
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
  /**
   * Access units in flight at most, beyond those a reordering stream keeps in the decoder
   * (learned, up to 16). Default 4: more adds latency, not throughput.
   */
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
  private maxSubmittedUs = -Infinity;
  /**
   * Units written off as lost by a later picture whose error may still come: error and output
   * callbacks are not ordered (an error can arrive after the next pictures' output).
   */
  private unexplained: number[] = [];
  private lastKeySubmittedUs = -Infinity;
  /** Timestamps submitted and not yet answered, in ascending order (presentation order). */
  private inFlight: number[] = [];
  /** Timestamps in the order they were submitted, until an output shows the native side got past them. */
  private submitOrder: number[] = [];
  /**
   * Whether this native decoder reorders (undefined until its first picture): then outputs come
   * in presentation order, `delay` pictures behind the input, each labelled with a later unit's
   * timestamp, so a picture is the oldest unit in flight and losses show only as stalls.
   */
  private reorders: boolean | undefined;
  /** Pictures a reordering decoder holds back (FFmpeg's has_b_frames), as observed. */
  private delay = 0;
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
    if (this.inFlight.length >= this.capacity) {
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
    insertSorted(this.inFlight, timestampUs);
    this.submitOrder.push(timestampUs);
    this.maxSubmittedUs = Math.max(this.maxSubmittedUs, timestampUs);
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
    while (this.inFlight.length >= this.capacity && signal?.aborted !== true) await this.progress(signal);
  }

  /** Units in flight at most: a reordering decoder holds `delay` pictures that need more input to come out. */
  private get capacity(): number {
    return this.maxPending + this.delay;
  }

  /** Resolves when every submitted access unit was answered (or written off). */
  async idle(signal?: AbortSignal): Promise<void> {
    while (this.inFlight.length > 0 && signal?.aborted !== true) await this.progress(signal);
  }

  /**
   * End of a file (or before it starts over): lets the decoder give back the pictures it still
   * holds (a reordering stream keeps up to 16), then writes off what did not come back. The
   * next unit must be a keyframe: FFmpeg drops its references after a flush.
   */
  async flush(): Promise<void> {
    const decoder = this.decoder;
    if (decoder === undefined || this.inFlight.length === 0) return;
    const generation = this.generation;
    let timer: NodeJS.Timeout | undefined;
    try {
      // The timer also keeps the event loop alive while pictures are in flight (see README).
      const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer within ${this.stallMs} ms`)), this.stallMs)));
      await Promise.race([decoder.flush(), timeout]);
    } catch (err) {
      if (generation === this.generation) {
        this.fail(`flush: ${(err as Error).message}`);
        this.sps = undefined;
      }
    } finally {
      clearTimeout(timer);
    }
    // The pictures a flush lets out are delivered on another native callback than its
    // completion and may come after it: wait for them (a picture that never comes costs stallMs).
    const deadline = performance.now() + this.stallMs;
    while (this.inFlight.length > 0 && this.decoder !== undefined && generation === this.generation && (await this.answer(deadline - performance.now())));
    if (generation !== this.generation) return;
    this.counters.lost += this.inFlight.length;
    this.inFlight = [];
    this.submitOrder = [];
    this.unexplained = [];
    this.needKey = true;
    this.wakeUp();
  }

  close(): void {
    this.generation += 1;
    this.closeNative();
    this.inFlight = [];
    this.submitOrder = [];
    this.wakeUp();
  }

  private open(sps: Uint8Array): void {
    this.closeNative();
    this.sps = sps;
    this.needKey = true;
    this.counters.lost += this.inFlight.length;
    this.inFlight = [];
    this.submitOrder = [];
    this.unexplained = [];
    this.reorders = undefined;
    this.delay = 0;
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
      const ts = this.identify(frame.timestamp);
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

  /**
   * Which submitted unit a picture is. node-webcodecs labels a picture with the timestamp of
   * the unit whose decoding let it out (while flushing, with its own). Without reordering
   * that is the picture's own unit, and units older than it that never answered are gone.
   * A reordering decoder outputs in presentation order `delay` pictures behind: the picture
   * is then the oldest unit in flight. Which of the two holds is read off the first picture
   * of each native decoder: pictures held back behind it mean reordering.
   */
  private identify(label: number): number {
    const at = this.submitOrder.indexOf(label);
    if (at >= 0) {
      // The native side decodes in submission order: it got through every unit up to the label.
      this.submitOrder.splice(0, at + 1);
      const held = this.inFlight.length - this.submitOrder.length - 1;
      this.reorders ??= held > 0;
      if (this.reorders) this.delay = Math.min(MAX_REORDER_DELAY, Math.max(this.delay, held));
    }
    if (this.reorders === true) return this.inFlight.shift() ?? label;
    // Units older than this picture that never answered are gone.
    while (this.inFlight.length > 0 && (this.inFlight[0] as number) < label) {
      this.counters.lost += 1;
      if (this.unexplained.push(this.inFlight.shift() as number) > this.maxPending) this.unexplained.shift();
    }
    if (this.inFlight[0] === label) this.inFlight.shift();
    return label;
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
    else {
      // The oldest in submission order the native side has not got past (a reordering
      // decoder holds older ones back without their being broken).
      brokenUs = this.reorders === true ? this.submitOrder[0] : this.inFlight[0];
      if (brokenUs !== undefined) this.forget(brokenUs);
    }
    if (brokenUs !== undefined && brokenUs < this.lastKeySubmittedUs) {
      // A late error: a keyframe went in after the broken unit, so decoding has recovered
      // already; only pictures between the two are damaged.
      this.discardUpToUs = Math.max(this.discardUpToUs, this.lastKeySubmittedUs - 1);
    } else {
      // Units submitted after the broken one reference it: their pictures are damaged (those
      // whose output came before this callback are out already).
      this.needKey = true;
      this.discardUpToUs = this.maxSubmittedUs;
    }
    this.wakeUp();
  }

  /** Removes a unit that will never answer from the bookkeeping. */
  private forget(timestampUs: number): void {
    for (const list of [this.inFlight, this.submitOrder]) {
      const at = list.indexOf(timestampUs);
      if (at >= 0) list.splice(at, 1);
    }
  }

  private wakeUp(): void {
    const wakers = this.wakers;
    this.wakers = [];
    for (const w of wakers) w();
  }

  /** Waits for an answer from the decoder (an output, an error) for `ms` at most; false if none came. */
  private async answer(ms: number, signal?: AbortSignal): Promise<boolean> {
    if (ms <= 0) return false;
    let timer: NodeJS.Timeout | undefined;
    const onAbort = (): void => this.wakeUp();
    signal?.addEventListener('abort', onAbort, { once: true });
    const answered = await new Promise<boolean>((resolve) => {
      this.wakers.push(() => resolve(true));
      // The timer also keeps the event loop alive while pictures are in flight (see README).
      timer = setTimeout(() => resolve(false), ms);
    });
    clearTimeout(timer);
    signal?.removeEventListener('abort', onAbort);
    return answered;
  }

  /** Waits for an answer from the decoder, or writes the oldest in-flight unit off after `stallMs`. */
  private async progress(signal?: AbortSignal): Promise<void> {
    const answered = await this.answer(this.stallMs, signal);
    if (!answered && this.inFlight.length > 0) {
      this.forget(this.inFlight[0] as number);
      this.counters.lost += 1;
    }
  }
}

/** H.264 keeps at most 16 pictures for reordering (max_num_reorder_frames <= max_dec_frame_buffering <= 16). */
const MAX_REORDER_DELAY = 16;

/** Inserts `value` into the ascending array `list` (in flight: a handful of entries). */
function insertSorted(list: number[], value: number): void {
  let i = list.length;
  while (i > 0 && (list[i - 1] as number) > value) i -= 1;
  list.splice(i, 0, value);
}

function sameBytes(a: Uint8Array, b: Uint8Array | undefined): boolean {
  if (b === undefined || a.length !== b.length) return false;
  for (let i = 0; i < a.length; i += 1) if (a[i] !== b[i]) return false;
  return true;
}
