import { setTimeout as sleep } from 'node:timers/promises';
import type { Source, SourceContext } from '../../runtime/pipeline/components.js';
import type { FrameRecordData, RawFrame } from '../../runtime/pipeline/frame.js';
import type { RecordInput } from '../../runtime/pipeline/record.js';
import type { BackoffOptions } from '../../runtime/uplink/backoff.js';
import { AnnexBParser } from './annexb.js';
import { openInput, type CameraInput, type InputStatus } from './byte-input.js';
import { H264Decoder } from './decoder.js';
import { FileClock, FrameSampler, LiveClock, MonotonicWallClock } from './frame-timing.js';

export interface CameraOptions {
  readonly id: string;
  readonly stream: string;
  readonly input: CameraInput;
  /** Nominal frame rate of the stream: paces a file, spaces timestamps. */
  readonly streamFps: number;
  /** File input only: pace at streamFps (true) or as fast as the pipeline takes frames. */
  readonly realtime: boolean;
  /** Frames per second emitted at most; undefined: every frame. */
  readonly fps?: number | undefined;
  readonly reconnect: BackoffOptions;
}

/**
 * Decoded frames waiting for `emit` at most. A live stream (TCP, UDP, a file played in real
 * time) never waits for the pipeline: beyond this the oldest waiting frame is dropped, as a
 * late frame is worth less than the next one. A file played as fast as possible waits instead.
 */
const MAX_READY_FRAMES = 2;

/**
 * A camera: H.264 Annex B bytes from a file, TCP or UDP, decoded to I420 frames and emitted
 * as `telemetry` records whose data is a `FrameRecordData`. Frames are for a vision stage
 * and never stored, so the source awaits `emit` (the edge's policy: `dropOldest`) and
 * never `receipt.stored`.
 */
export class CameraSource implements Source {
  private readonly abort = new AbortController();
  private readonly parser = new AnnexBParser();
  private readonly decoder: H264Decoder;
  private readonly sampler: FrameSampler;
  private readonly clock = new MonotonicWallClock();
  private readonly status: InputStatus = { reconnects: 0, datagramsDropped: 0, connected: false, lastError: null };
  private readonly live: boolean;
  private ready: { frame: RawFrame; skippedBefore: number }[] = [];
  private wakeEmitter: (() => void) | undefined;
  private wakeReader: (() => void) | undefined;
  private loops: Promise<unknown> | undefined;
  private sampledOut = 0;
  private framesDropped = 0;
  private framesEmitted = 0;
  /** Pictures lost or skipped up to the last queued frame, for `skippedBefore`. */
  private skippedAtLastFrame = 0;

  constructor(private readonly options: CameraOptions) {
    this.live = !('file' in options.input) || options.realtime;
    this.sampler = new FrameSampler(options.fps, options.streamFps);
    this.decoder = new H264Decoder({
      onFrame: (frame) => this.onFrame(frame),
      want: (tsUs) => {
        if (this.sampler.take(tsUs / 1000)) return true;
        this.sampledOut += 1;
        return false;
      },
    });
  }

  async start(ctx: SourceContext): Promise<void> {
    const signal = AbortSignal.any([this.abort.signal, ctx.signal]);
    this.status.onError = (message) => ctx.events.warn('camera.input_failed', { code: 'E_CAMERA_INPUT', source: this.options.id, reason: message });
    const fail = (err: unknown): void => ctx.events.error('source.failed', { code: 'E_SOURCE_FAILED', source: this.options.id, reason: (err as Error).message });
    signal.addEventListener('abort', () => this.wake(), { once: true });
    this.loops = Promise.all([this.read(signal).catch(fail), this.emitFrames(ctx, signal).catch(fail)]);
  }

  async stop(): Promise<void> {
    this.abort.abort();
    await this.loops;
    this.decoder.close();
  }

  /** The UDP port the input bound (useful when the config asked for port 0); undefined for other inputs or before the bind. */
  get udpPort(): number | undefined {
    return this.status.udpPort;
  }

  stats(): Readonly<Record<string, number | string | boolean | null>> {
    const p = this.parser.counters;
    const d = this.decoder.counters;
    return {
      connected: this.status.connected,
      bytesIn: p.bytes,
      accessUnits: p.accessUnits,
      keyframes: p.keyframes,
      garbageBytes: p.garbageBytes,
      oversizeDrops: p.oversizeDrops,
      decodeErrors: d.decodeErrors,
      droppedUntilKey: d.droppedUntilKey,
      discardedAfterError: d.discardedAfterError,
      lostPictures: d.lost,
      framesDecoded: d.decoded + d.skipped,
      framesEmitted: this.framesEmitted,
      sampledOut: this.sampledOut,
      framesDropped: this.framesDropped,
      datagramsDropped: this.status.datagramsDropped,
      reconnects: this.status.reconnects,
      ...this.status.rtsp,
      lastError: this.status.lastError ?? this.decoder.lastError,
    };
  }

  private async read(signal: AbortSignal): Promise<void> {
    const isFile = 'file' in this.options.input;
    const paced = isFile && this.options.realtime;
    const streamClock = isFile ? new FileClock(this.clock, this.options.streamFps) : new LiveClock(this.clock, this.options.streamFps);
    let lastUs = 0;
    for await (const ev of openInput(this.options.input, this.options.reconnect, this.status, signal)) {
      if (ev.kind === 'break') {
        this.parser.reset();
        continue;
      }
      for (const au of ev.kind === 'data' ? this.parser.push(ev.bytes) : this.parser.end()) {
        await this.decoder.waitForSpace(signal);
        if (!this.live) while (this.ready.length >= MAX_READY_FRAMES && !signal.aborted) await new Promise<void>((r) => (this.wakeReader = r));
        if (signal.aborted) return;
        const tsMs = streamClock.next();
        // A file played in real time waits until its picture is due.
        if (paced) await sleep(tsMs - this.clock.now(), undefined, { signal }).catch(() => undefined);
        const tsUs = Math.max(Math.round(tsMs * 1000), lastUs + 1);
        lastUs = tsUs;
        await this.decoder.submit(au, tsUs, signal);
      }
    }
  }

  private skippedTotal(): number {
    const d = this.decoder.counters;
    return this.sampledOut + this.framesDropped + d.droppedUntilKey + d.droppedBusy + d.decodeErrors + d.discardedAfterError + d.lost + d.unsupported;
  }

  private onFrame(frame: RawFrame): void {
    const total = this.skippedTotal();
    this.ready.push({ frame, skippedBefore: total - this.skippedAtLastFrame });
    this.skippedAtLastFrame = total;
    if (this.live && this.ready.length > MAX_READY_FRAMES) {
      const dropped = this.ready.shift() as { skippedBefore: number };
      this.framesDropped += 1;
      this.skippedAtLastFrame += 1;
      (this.ready[0] as { skippedBefore: number }).skippedBefore += dropped.skippedBefore + 1;
    }
    this.wake();
  }

  private async emitFrames(ctx: SourceContext, signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      if (this.ready.length === 0) {
        await new Promise<void>((r) => (this.wakeEmitter = r));
        continue;
      }
      const batch = this.ready;
      this.ready = [];
      this.wakeReader?.();
      const records: RecordInput[] = batch.map(({ frame, skippedBefore }) => {
        const data: FrameRecordData = { frame, skippedBefore };
        return { stream: this.options.stream, class: 'telemetry', ts: frame.timestampUs / 1000, data };
      });
      const receipt = await ctx.emit(records);
      // Frames are consumed by a stage and never stored: nobody waits for this, so it must not reject unhandled.
      receipt.stored.catch(() => undefined);
      this.framesEmitted += records.length;
    }
  }

  private wake(): void {
    const e = this.wakeEmitter;
    const r = this.wakeReader;
    this.wakeEmitter = undefined;
    this.wakeReader = undefined;
    e?.();
    r?.();
  }
}
