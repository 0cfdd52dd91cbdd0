import { setTimeout as sleep } from 'node:timers/promises';
import type { Source, SourceContext } from '../../runtime/pipeline/components.js';
import type { FrameRecordData, RawFrame } from '../../runtime/pipeline/frame.js';
import type { ComponentEvents } from '../../runtime/health/events.js';
import type { RecordInput } from '../../runtime/pipeline/record.js';
import { Backoff, type BackoffOptions } from '../../runtime/uplink/backoff.js';
import { AnnexBParser, type AccessUnit } from './annexb.js';
import { redactUrl } from './rtsp/rtsp-url.js';
import { openInput, type CameraInput, type InputEvent, type InputStatus } from './byte-input.js';
import { H264Decoder } from './decoder.js';
import { FileClock, FrameSampler, LiveClock, MediaClock, MonotonicWallClock } from './frame-timing.js';
import { AnnexBFormatCheck, CameraFormatError, type FormatVerdict } from './stream-format.js';

export interface CameraOptions {
  readonly id: string;
  readonly stream: string;
  readonly input: CameraInput;
  /**
   * Nominal frame rate of the stream: paces a file, spaces timestamps. Undefined: 30 for a
   * raw stream; an MP4's own sample times.
   */
  readonly streamFps?: number | undefined;
  /** File input only: play in real time (true), or as fast as the pipeline takes frames, waiting for it and dropping none (false). */
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

/** The frame rate of a raw stream whose config gives none. */
const DEFAULT_STREAM_FPS = 30;

/** How a file's access units are timed and paced. */
interface Timing {
  /** The unit's time (µs, wall clock) and when it is due (ms) for a file played in real time. */
  next(ev: InputEvent): { tsUs: number; dueMs: number };
  /** The file starts over. */
  loop(): void;
}

/**
 * A camera: H.264 from a file (raw Annex B or MP4), TCP or UDP, decoded to I420 frames and
 * emitted as `telemetry` records whose data is a `FrameRecordData`. Frames are for a vision
 * stage and never stored, so the source awaits `emit` (the edge's policy: `dropOldest`) and
 * never `receipt.stored`; a file played as fast as possible waits for room on the edge first.
 * Input that is not H.264 is refused (`E_CAMERA_FORMAT`) and makes the source degraded.
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
  /** Why the input is refused (not H.264), while it is. */
  private refused: string | null = null;
  private formatErrors = 0;
  private sampledOut = 0;
  private framesDropped = 0;
  private framesEmitted = 0;
  /** Pictures lost or skipped up to the last queued frame, for `skippedBefore`. */
  private skippedAtLastFrame = 0;
  /** The last unit's time (µs) of a raw stream, whose times must increase. */
  private lastUs = 0;

  constructor(private readonly options: CameraOptions) {
    this.live = !('file' in options.input) || options.realtime;
    this.sampler = new FrameSampler(options.fps, options.streamFps ?? DEFAULT_STREAM_FPS);
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
    this.loops = Promise.all([this.read(ctx.events, signal).catch(fail), this.emitFrames(ctx, signal).catch(fail)]);
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
      container: this.status.container ?? null,
      degraded: this.refused !== null,
      degradedReason: this.refused,
      formatErrors: this.formatErrors,
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
      lastError: this.refused ?? this.status.lastError ?? this.decoder.lastError,
    };
  }

  /**
   * Reads the input until it ends (a file without `loop`) or the source stops. Input that is
   * not H.264 is refused: a file is not read again (the same bytes would fail the same way);
   * a network input is dropped and reconnected with backoff, and the source stays degraded
   * until a connection brings H.264.
   */
  private async read(events: ComponentEvents, signal: AbortSignal): Promise<void> {
    const backoff = new Backoff(this.options.reconnect);
    while (!signal.aborted) {
      const refusal = await this.readInput(signal, () => {
        this.refused = null;
        backoff.reset();
      });
      if (refusal === undefined) return;
      this.refused = `${refusal.code}: ${refusal.message}`;
      this.formatErrors += 1;
      events.error('camera.format_rejected', { code: refusal.code, source: this.options.id, reason: refusal.message });
      if ('file' in this.options.input) return;
      await sleep(backoff.next(), undefined, { signal }).catch(() => undefined);
    }
  }

  /** One run of the input; returns why it was refused, or undefined when it ended. */
  private async readInput(signal: AbortSignal, accepted: () => void): Promise<CameraFormatError | undefined> {
    const input = this.options.input;
    const check = new AnnexBFormatCheck('file' in input ? `file ${input.file}` : 'tcp' in input ? `tcp ${input.tcp}` : 'udp' in input ? `udp ${input.udp}` : `rtsp ${redactUrl(input.rtsp)}`);
    check.begin(this.parser.counters);
    const timing = this.timing();
    try {
      for await (const ev of openInput(input, this.options.reconnect, this.status, signal)) {
        let aus: AccessUnit[];
        let verdict: FormatVerdict = 'pending';
        if (ev.kind === 'data') {
          aus = this.parser.push(ev.bytes);
          verdict = check.observe(this.parser.counters, ev.bytes, aus.some((a) => a.sps !== undefined));
        } else if (ev.kind === 'unit') {
          // One container sample is one access unit: the parser checks it and finds its SPS.
          aus = oneUnit([...this.parser.push(ev.bytes), ...this.parser.end()]);
        } else if (ev.kind === 'end') {
          aus = this.parser.end();
          verdict = check.end(this.parser.counters);
        } else {
          this.parser.reset();
          aus = [];
          verdict = check.end(this.parser.counters, false);
        }
        if (verdict instanceof CameraFormatError) return verdict;
        if (verdict === 'ok') accepted();
        for (const au of aus) {
          await this.decoder.waitForSpace(signal);
          if (!this.live) while (this.ready.length >= MAX_READY_FRAMES && !signal.aborted) await new Promise<void>((r) => (this.wakeReader = r));
          if (signal.aborted) return undefined;
          const { tsUs, dueMs } = timing.next(ev);
          // A file played in real time waits until its picture is due.
          if (this.paced) await sleep(dueMs - this.clock.now(), undefined, { signal }).catch(() => undefined);
          await this.decoder.submit(au, tsUs, signal);
        }
        if (ev.kind === 'end' || ev.kind === 'break') {
          // The decoder gives back the pictures it holds (a stream with B-frames keeps some).
          await this.decoder.flush();
          check.begin(this.parser.counters);
          if (ev.kind === 'end') timing.loop();
        }
      }
    } catch (err) {
      if (err instanceof CameraFormatError) return err;
      throw err;
    }
    return undefined;
  }

  private get paced(): boolean {
    return 'file' in this.options.input && this.options.realtime;
  }

  /**
   * Times for access units. Raw H.264 carries no clock: a file's picture n is at start +
   * n/streamFps, a live picture at its arrival. An MP4 carries its own: a picture is at
   * start + its presentation time, paced by its decode time, unless the config sets
   * `streamFps`. RTSP carries the camera's: the input times each picture by its RTP
   * timestamp (`rtsp/rtp-clock.ts`), kept strictly increasing here like the others.
   */
  private timing(): Timing {
    const fps = this.options.streamFps ?? DEFAULT_STREAM_FPS;
    if (!('file' in this.options.input)) {
      const live = new LiveClock(this.clock, fps);
      return { next: (ev) => this.unique(ev.kind === 'data' && ev.timeUs !== undefined ? ev.timeUs / 1000 : live.next()), loop: () => undefined };
    }
    const frames = new FileClock(this.clock, fps);
    const media = new MediaClock(this.clock);
    const byContainer = this.options.streamFps === undefined;
    let endUs = 0;
    return {
      next: (ev) => {
        if (ev.kind !== 'unit' || !byContainer) return this.unique(frames.next());
        endUs = Math.max(endUs, ev.timeUs + ev.durationUs);
        // Presentation times are not in decode order with B-frames: no monotonic fix-up here.
        const { tsMs, dueMs } = media.next(ev.decodeTimeUs / 1000, ev.timeUs / 1000);
        return { tsUs: Math.round(tsMs * 1000), dueMs };
      },
      loop: () => {
        media.loop(endUs / 1000);
        endUs = 0;
      },
    };
  }

  /** A unit's time, strictly after the previous unit's, due when it is. */
  private unique(ms: number): { tsUs: number; dueMs: number } {
    const tsUs = Math.max(Math.round(ms * 1000), this.lastUs + 1);
    this.lastUs = tsUs;
    return { tsUs, dueMs: ms };
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
      // Played as fast as possible, a file must not lose frames to the edge's dropOldest: wait for room.
      if (!this.live) await ctx.waitForRoom?.(records.length);
      if (signal.aborted) {
        for (const r of batch) r.frame.release?.();
        return;
      }
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

/** A container sample is one picture even where the parser sees two (the two fields of an interlaced frame). */
function oneUnit(aus: AccessUnit[]): AccessUnit[] {
  if (aus.length <= 1) return aus;
  const data = new Uint8Array(aus.reduce((n, a) => n + a.data.length, 0));
  aus.reduce((off, a) => (data.set(a.data, off), off + a.data.length), 0);
  const sps = aus.find((a) => a.sps !== undefined)?.sps;
  return [{ data, key: aus.some((a) => a.key), ...(sps === undefined ? {} : { sps }) }];
}
