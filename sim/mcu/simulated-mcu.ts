import { randomInt } from 'node:crypto';
import { cobsDecode } from '../../firmware-bridge/cobs.js';
import { FirmwareReceiver } from '../../firmware-bridge/firmware-transfer.js';
import { LinkEndpoint, LinkResetError, type LinkCounters } from '../../firmware-bridge/link.js';
import { MAX_SAMPLES_VALUES, MessageType, popcount, type Message } from '../../firmware-bridge/messages.js';
import { ReconnectingPort, type PortCounters } from '../../devices/serial-sensor/port.js';
import { seededRandom } from '../../devices/synthetic/signals.js';
import { MOTOR_CHANNELS, MotorSignals, type FaultKind } from './signals.js';

export interface SimulatedMcuOptions {
  readonly path: string;
  readonly baudRate?: number;
  readonly deviceId?: string;
  readonly firmwareVersion?: string;
  readonly rateHz?: number;
  /** Samples per SAMPLES frame; default: as many as fit. */
  readonly samplesPerFrame?: number;
  /** Samples kept until the gateway commits them; the oldest are dropped (counted) beyond. */
  readonly bufferSamples?: number;
  readonly seed?: number;
  /** The motor was running before the MCU started (MotorSignals' `running`); default: just switched on. */
  readonly runningMotor?: boolean;
  /** Crystal error of the MCU clock, ppm. */
  readonly clockErrorPpm?: number;
  readonly retransmitTimeoutMs?: number;
  readonly windowFrames?: number;
  /** Random bytes written between frames, per second (line noise). */
  readonly noiseBytesPerSecond?: number;
  /** Probability that an outgoing frame is not written at all. */
  readonly dropFrameProbability?: number;
}

export interface McuCounters {
  bootId: number;
  reboots: number;
  sessions: number;
  samplesTaken: number;
  samplesCommitted: number;
  /** Samples dropped because the buffer of uncommitted samples was full. */
  samplesOverflowed: number;
  bufferedSamples: number;
  noiseBytes: number;
  droppedFrames: number;
  corruptedReceivedFrames: number;
}

/** A run of samples taken with one rate and one channel mask. */
interface Segment {
  readonly startIndex: number;
  readonly startTickUs: number;
  readonly rateMilliHz: number;
  readonly mask: number;
}

const TICK_MS = 5;
/** A frame with fewer samples than it could hold goes out once its first sample is this old. */
const MAX_FRAME_DELAY_MS = 50;

/**
 * A sensor MCU that speaks the firmware-bridge protocol on a serial port (a socat pty in
 * tests, so the gateway opens it like hardware). It samples three motor channels on its own
 * clock, keeps every sample until the gateway commits it (a bounded ring), and after any
 * link loss starts a new session: HELLO first, then every uncommitted sample again.
 */
export class SimulatedMcu {
  private readonly port: ReconnectingPort;
  private readonly link: LinkEndpoint;
  private readonly signals: MotorSignals;
  private readonly firmware: FirmwareReceiver;
  private readonly random: () => number;
  private readonly rateHz: number;
  private readonly capacity: number;
  private readonly ring: Float32Array;
  private readonly channels = MOTOR_CHANNELS.length;
  private segments: Segment[] = [];
  private bootId = 0;
  private bootAtMs = 0;
  private oldestIndex = 0;
  private nextIndex = 0;
  private sendCursor = 0;
  private frameLimit: number;
  private mask: number;
  /** False once `stopSampling`: the buffer still goes out, nothing new is taken. */
  private sampling = true;
  private rateMilliHz: number;
  private timer: NodeJS.Timeout | undefined;
  private noiseTimer: NodeJS.Timeout | undefined;
  private noiseBytesPerSecond: number;
  private dropFrameProbability: number;
  private corruptChunksLeft = 0;
  private loseCommitsUntil = 0;
  private rxAcc: number[] = [];
  readonly counters: McuCounters = { bootId: 0, reboots: 0, sessions: 0, samplesTaken: 0, samplesCommitted: 0, samplesOverflowed: 0, bufferedSamples: 0, noiseBytes: 0, droppedFrames: 0, corruptedReceivedFrames: 0 };

  constructor(private readonly options: SimulatedMcuOptions) {
    this.rateHz = options.rateHz ?? 1000;
    this.rateMilliHz = Math.round(this.rateHz * 1000);
    this.mask = (1 << this.channels) - 1;
    this.capacity = options.bufferSamples ?? Math.max(1000, Math.ceil(this.rateHz * 60));
    this.ring = new Float32Array(this.capacity * this.channels);
    this.frameLimit = Math.min(options.samplesPerFrame ?? 1000, Math.floor(MAX_SAMPLES_VALUES / this.channels));
    this.random = seededRandom(options.seed ?? 1);
    this.signals = new MotorSignals(options.seed ?? 1, {}, { running: options.runningMotor ?? false });
    this.noiseBytesPerSecond = options.noiseBytesPerSecond ?? 0;
    this.dropFrameProbability = options.dropFrameProbability ?? 0;
    this.port = new ReconnectingPort({
      path: options.path,
      baudRate: options.baudRate ?? 921_600,
      onData: (chunk) => this.onBytes(chunk),
      onOpen: () => this.beginSession(),
      reopenMinDelayMs: 50,
      reopenMaxDelayMs: 500,
    });
    this.link = new LinkEndpoint({
      write: (bytes) => this.writeFrame(bytes),
      deliver: (m) => this.onMessage(m),
      retransmitTimeoutMs: options.retransmitTimeoutMs ?? 200,
      lineBytesPerSecond: (options.baudRate ?? 921_600) / 10,
      windowFrames: options.windowFrames ?? 16,
      random: this.random,
      onPeerUnsynced: () => this.beginSession(),
    });
    this.firmware = new FirmwareReceiver((m) => this.sendReliable(m));
  }

  get linkCounters(): LinkCounters {
    return this.link.counters;
  }

  get portCounters(): PortCounters {
    return this.port.counters;
  }

  get faultLog(): MotorSignals['faultLog'] {
    return this.signals.faultLog;
  }

  get flashedImages(): readonly Uint8Array[] {
    return this.firmware.accepted;
  }

  start(): void {
    this.boot();
    this.port.start();
    this.timer = setInterval(() => this.tick(), TICK_MS);
    this.setNoise(this.noiseBytesPerSecond);
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    clearInterval(this.noiseTimer);
    this.link.close();
    await this.port.stop();
  }

  /**
   * The sensor stops (a run's clean end): no sample is taken after this, and what is buffered
   * is still sent, partial frames at once, until the gateway has committed it
   * (`counters.bufferedSamples` reaches 0). `stop` after that loses nothing.
   */
  stopSampling(): void {
    this.sampling = false;
  }

  /** A reset: new boot id, tick from zero, every buffered sample lost (as on real hardware). */
  reboot(): void {
    this.counters.reboots += 1;
    this.boot();
    if (this.port.isOpen) this.beginSession();
  }

  private boot(): void {
    this.bootId = randomInt(1, 0xffffffff);
    this.counters.bootId = this.bootId;
    this.bootAtMs = performance.now();
    this.oldestIndex = 0;
    this.nextIndex = 0;
    this.sendCursor = 0;
    this.segments = [{ startIndex: 0, startTickUs: 0, rateMilliHz: this.rateMilliHz, mask: this.mask }];
  }

  setFault(kind: FaultKind, on: boolean): void {
    this.signals.setFault(kind, on, this.nextIndex);
    this.sendReliable({ type: 'log', level: on ? 'warn' : 'info', text: `simulated fault ${kind} ${on ? 'on' : 'off'} at sample ${this.nextIndex}` });
  }

  setNoise(bytesPerSecond: number): void {
    this.noiseBytesPerSecond = bytesPerSecond;
    clearInterval(this.noiseTimer);
    this.noiseTimer = undefined;
    if (bytesPerSecond <= 0) return;
    this.noiseTimer = setInterval(() => {
      const n = Math.max(1, Math.round((bytesPerSecond * 50) / 1000));
      const noise = new Uint8Array(n);
      for (let i = 0; i < n; i += 1) noise[i] = Math.floor(this.random() * 256);
      this.counters.noiseBytes += n;
      this.port.write(noise);
    }, 50);
  }

  setDropFrameProbability(p: number): void {
    this.dropFrameProbability = p;
  }

  /**
   * Ignores every COMMIT for `ms` (as if the line ate them): the gateway stores samples the
   * MCU still holds, and the MCU sends them again after the next link loss.
   */
  loseCommitsFor(ms: number): void {
    this.loseCommitsUntil = performance.now() + ms;
  }

  /** Corrupts the next `n` FW_CHUNK frames this MCU receives (their CRC fails; the link resends). */
  corruptReceivedChunks(n: number): void {
    this.corruptChunksLeft = n;
  }

  /** MCU tick now, microseconds since boot, on the MCU's (slightly wrong) crystal. */
  private tickUs(): number {
    return Math.floor((performance.now() - this.bootAtMs) * 1000 * (1 + (this.options.clockErrorPpm ?? 0) * 1e-6));
  }

  private writeFrame(bytes: Uint8Array): void {
    if (this.dropFrameProbability > 0 && this.random() < this.dropFrameProbability) {
      this.counters.droppedFrames += 1;
      return;
    }
    this.port.write(bytes);
  }

  private sendReliable(m: Message): void {
    if (!this.link.hasRoom()) return; // control traffic is best effort when the queue is full
    this.link.sendReliable(m).catch((err: unknown) => {
      if (!(err instanceof LinkResetError)) throw err;
    });
  }

  private beginSession(): void {
    this.counters.sessions += 1;
    this.link.startSession();
    this.sendCursor = this.oldestIndex;
    this.sendReliable({ type: 'hello', bootId: this.bootId, deviceId: this.options.deviceId ?? 'sim-mcu-1', firmwareVersion: this.options.firmwareVersion ?? '1.4.2-sim', sampleRateMilliHz: this.rateMilliHz, channels: MOTOR_CHANNELS });
  }

  private segmentOf(index: number): Segment {
    for (let i = this.segments.length - 1; i >= 0; i -= 1) {
      const s = this.segments[i] as Segment;
      if (s.startIndex <= index) return s;
    }
    return this.segments[0] as Segment;
  }

  /** Takes the samples that are due on the MCU clock, then sends what the link has room for. */
  private tick(): void {
    const seg = this.segments[this.segments.length - 1] as Segment;
    const due = this.sampling ? seg.startIndex + Math.floor(((this.tickUs() - seg.startTickUs) * seg.rateMilliHz) / 1e9) : this.nextIndex;
    const rate = seg.rateMilliHz / 1000;
    while (this.nextIndex < due) {
      if (this.nextIndex - this.oldestIndex >= this.capacity) {
        // The gateway has not committed for a long time: the oldest sample goes.
        this.oldestIndex += 1;
        this.counters.samplesOverflowed += 1;
        if (this.sendCursor < this.oldestIndex) this.sendCursor = this.oldestIndex;
      }
      const values = this.signals.sample(this.nextIndex, rate);
      this.ring.set(values, (this.nextIndex % this.capacity) * this.channels);
      this.nextIndex += 1;
      this.counters.samplesTaken += 1;
    }
    this.counters.bufferedSamples = this.nextIndex - this.oldestIndex;
    this.segments = this.segments.filter((s, i) => i === this.segments.length - 1 || (this.segments[i + 1] as Segment).startIndex > this.oldestIndex);
    this.sendFrames();
  }

  private sendFrames(): void {
    if (!this.port.isOpen) return;
    while (this.link.hasRoom() && this.link.pending < (this.options.windowFrames ?? 16) * 2 && this.sendCursor < this.nextIndex) {
      const seg = this.segmentOf(this.sendCursor);
      const nextSeg = this.segments.find((s) => s.startIndex > this.sendCursor);
      const end = Math.min(this.nextIndex, this.sendCursor + this.frameLimit, nextSeg?.startIndex ?? Infinity);
      const count = end - this.sendCursor;
      const firstTickUs = seg.startTickUs + Math.round(((this.sendCursor - seg.startIndex) * 1e9) / seg.rateMilliHz);
      const ageMs = (this.tickUs() - firstTickUs) / 1000;
      if (this.sampling && count < this.frameLimit && nextSeg === undefined && ageMs < MAX_FRAME_DELAY_MS) return;
      const channels: number[] = [];
      for (let c = 0; c < this.channels; c += 1) if ((seg.mask >>> c) & 1) channels.push(c);
      const values = channels.map((c) => {
        const out = new Array<number>(count);
        for (let k = 0; k < count; k += 1) out[k] = this.ring[((this.sendCursor + k) % this.capacity) * this.channels + c] as number;
        return out;
      });
      this.sendReliable({ type: 'samples', bootId: this.bootId, firstIndex: this.sendCursor, firstTickUs, sampleRateMilliHz: seg.rateMilliHz, channelMask: seg.mask, count, values });
      this.sendCursor = end;
    }
  }

  private onBytes(chunk: Uint8Array): void {
    if (this.corruptChunksLeft <= 0 && this.rxAcc.length === 0) {
      this.link.receive(chunk);
      return;
    }
    // Fault injection: find whole frames and flip a byte in FW_CHUNK ones.
    for (const b of chunk) {
      if (b !== 0) {
        this.rxAcc.push(b);
        continue;
      }
      const frame = Uint8Array.from(this.rxAcc);
      this.rxAcc = [];
      const raw = cobsDecode(frame);
      if (this.corruptChunksLeft > 0 && raw !== undefined && raw[1] === MessageType.FW_CHUNK && frame.length > 20) {
        this.corruptChunksLeft -= 1;
        this.counters.corruptedReceivedFrames += 1;
        const at = Math.floor(frame.length / 2);
        frame[at] = (frame[at] as number) === 1 ? 2 : 1;
      }
      this.link.receive(frame);
      this.link.receive(new Uint8Array([0]));
    }
  }

  private onMessage(m: Message): void {
    switch (m.type) {
      case 'commit':
        if (performance.now() < this.loseCommitsUntil) return;
        if (m.bootId !== this.bootId || m.nextIndex <= this.oldestIndex) return;
        {
          const upTo = Math.min(m.nextIndex, this.nextIndex);
          this.counters.samplesCommitted += upTo - this.oldestIndex;
          this.oldestIndex = upTo;
          if (this.sendCursor < this.oldestIndex) this.sendCursor = this.oldestIndex;
        }
        return;
      case 'timeSyncRequest':
        this.link.sendUnreliable({ type: 'timeSyncResponse', requestId: m.requestId, tickUs: this.tickUs() });
        return;
      case 'config': {
        const mask = (m.channelMask & ((1 << this.channels) - 1)) >>> 0;
        if (m.sampleRateMilliHz === 0 || popcount(mask) === 0) return;
        this.rateMilliHz = m.sampleRateMilliHz;
        this.mask = mask;
        this.frameLimit = Math.min(this.options.samplesPerFrame ?? 1000, Math.floor(MAX_SAMPLES_VALUES / popcount(mask)));
        this.segments.push({ startIndex: this.nextIndex, startTickUs: this.tickUs(), rateMilliHz: this.rateMilliHz, mask });
        return;
      }
      case 'fwBegin':
      case 'fwChunk':
      case 'fwEnd':
        this.firmware.onMessage(m);
        return;
      default:
        return;
    }
  }
}
