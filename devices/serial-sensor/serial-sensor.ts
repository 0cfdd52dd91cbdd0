import type { RecordClass } from '../../fleet/protocol/index.js';
import { FirmwareSender, type FirmwareResult } from '../../firmware-bridge/firmware-transfer.js';
import { LinkEndpoint, LinkResetError } from '../../firmware-bridge/link.js';
import type { Channel, Message } from '../../firmware-bridge/messages.js';
import { TimeSyncEstimator } from '../../firmware-bridge/time-sync.js';
import type { Source, SourceContext } from '../../runtime/pipeline/components.js';
import type { EmitResult, RecordInput } from '../../runtime/pipeline/record.js';
import { ReconnectingPort, type PortOptions, type SerialTransport } from './port.js';

export interface SerialSensorOptions {
  readonly id: string;
  readonly path: string;
  readonly baudRate: number;
  readonly stream: string;
  readonly class: RecordClass;
  readonly sampleRateHz: number | undefined;
  readonly channels: readonly string[] | undefined;
  readonly retransmitTimeoutMs: number;
  readonly timeSyncIntervalMs: number;
  readonly reopenMinDelayMs: number;
  readonly reopenMaxDelayMs: number;
  readonly maxPendingRecords: number;
  /** Opens the byte pipe; default: a ReconnectingPort on `path` (benchmarks pass an in-memory one). */
  readonly openTransport?: (options: PortOptions) => SerialTransport;
}

type SamplesMessage = Extract<Message, { type: 'samples' }>;
type HelloMessage = Extract<Message, { type: 'hello' }>;

/** Counters a plant engineer reads when a sensor line misbehaves. */
export interface SerialSensorStats {
  [key: string]: number | string | boolean | null;
  connected: boolean;
  deviceId: string | null;
  firmwareVersion: string | null;
  bootId: number | null;
  mcuReboots: number;
  samplesReceived: number;
  duplicateSamples: number;
  /** Samples the MCU no longer had (its buffer overflowed while the gateway could not commit). */
  lostSamples: number;
  committedIndex: number;
  timeSyncErrorMs: number | null;
  crcErrors: number;
  resyncs: number;
  retransmits: number;
  duplicateFrames: number;
  portOpens: number;
  portCloses: number;
  badPayloads: number;
}

const PENDING_SYNC_MAX_MS = 2000;
const COMMIT_REPEAT_MS = 500;
const SYNC_BURST = 4;

function wallNow(): number {
  return performance.timeOrigin + performance.now();
}

/**
 * A sensor microcontroller on a serial line. SAMPLES become records (channel names and
 * units from HELLO, wall-clock timestamps from TIME_SYNC, each with its error bound); the
 * MCU is told to drop samples (COMMIT) only after the store has them. Samples the MCU sends
 * again after a link loss are recognised by (boot id, sample index) and stored once.
 */
export class SerialSensorSource implements Source {
  private port: SerialTransport | undefined;
  private link: LinkEndpoint | undefined;
  private firmware: FirmwareSender | undefined;
  private ctx: SourceContext | undefined;
  private readonly timeSync = new TimeSyncEstimator();
  private hello: HelloMessage | undefined;
  private bootId: number | null = null;
  /** Next sample index expected from the current boot (samples below it are stored or on their way). */
  private highWater: number | undefined;
  private committedNext = 0;
  private commitScheduled = false;
  private readonly pendingSync: { m: SamplesMessage; at: number }[] = [];
  private readonly syncRequests = new Map<number, number>();
  private nextRequestId = 1;
  private inFlight = 0;
  private paused = false;
  private emitChain: Promise<void> = Promise.resolve();
  private timers: NodeJS.Timeout[] = [];
  private readonly counts = { mcuReboots: 0, samplesReceived: 0, duplicateSamples: 0, lostSamples: 0 };
  private stopping = false;
  /** Emitted batches in order, waiting to be committed once they and all before them are decided. */
  private readonly commitQueue: { bootId: number; next: number; decided: boolean; commit: boolean }[] = [];

  constructor(private readonly options: SerialSensorOptions) {}

  /**
   * The port is open (stats' `connected`): a USB adapter unplugged or a pty torn down closes it.
   * An open port over which the MCU is silent still counts as answering: the link layer has no
   * heartbeat to tell a quiet sensor from a dead one.
   */
  answering(): boolean {
    return this.port?.isOpen === true;
  }

  stats(): SerialSensorStats {
    const l = this.link?.counters;
    const p = this.port?.counters;
    return {
      connected: this.port?.isOpen === true,
      deviceId: this.hello?.deviceId ?? null,
      firmwareVersion: this.hello?.firmwareVersion ?? null,
      bootId: this.bootId,
      ...this.counts,
      committedIndex: this.committedNext,
      timeSyncErrorMs: this.timeSync.synced ? Math.round(this.bestSyncErrorMs() * 1000) / 1000 : null,
      crcErrors: l?.crcErrors ?? 0,
      resyncs: l?.resyncs ?? 0,
      retransmits: l?.retransmits ?? 0,
      duplicateFrames: l?.duplicates ?? 0,
      portOpens: p?.opens ?? 0,
      portCloses: p?.closes ?? 0,
      badPayloads: l?.badPayloads ?? 0,
    };
  }

  private bestSyncErrorMs(): number {
    return this.timeSync.toWall(this.lastTickUs)?.errorMs ?? Number.NaN;
  }

  private lastTickUs = 0;

  async start(ctx: SourceContext): Promise<void> {
    this.ctx = ctx;
    // Before the port opens: the first SAMPLES must already be judged against it.
    const read = ctx.readCheckpoint;
    if (read !== undefined) await this.restoreCheckpoint(ctx, () => read.call(ctx));
    const link = new LinkEndpoint({
      write: (bytes) => this.port?.write(bytes),
      deliver: (m) => this.onMessage(m),
      retransmitTimeoutMs: this.options.retransmitTimeoutMs,
      lineBytesPerSecond: this.options.baudRate / 10,
      onBadPayload: (error) => ctx.events.warn('serial.bad_payload', { code: 'E_FRAME_PAYLOAD', source: this.options.id, reason: error }),
      onDeliverError: (err, m) => ctx.events.error('serial.deliver_failed', { source: this.options.id, message: m.type, reason: (err as Error).message }),
    });
    this.link = link;
    this.firmware = new FirmwareSender(link);
    const open = this.options.openTransport ?? ((o: PortOptions) => new ReconnectingPort(o));
    this.port = open({
      path: this.options.path,
      baudRate: this.options.baudRate,
      onData: (chunk) => link.receive(chunk),
      onOpen: () => {
        link.lineReset();
        ctx.events.info('serial.opened', { source: this.options.id, path: this.options.path });
      },
      onClose: (reason) => ctx.events.warn('serial.closed', { code: 'E_SERIAL_CLOSED', source: this.options.id, path: this.options.path, reason }),
      reopenMinDelayMs: this.options.reopenMinDelayMs,
      reopenMaxDelayMs: this.options.reopenMaxDelayMs,
    });
    this.port.start();
    this.timers.push(setInterval(() => this.requestTimeSync(), this.options.timeSyncIntervalMs));
    this.timers.push(setInterval(() => this.sendCommit(), COMMIT_REPEAT_MS));
    this.timers.push(setInterval(() => this.flushPendingSync(false), 250));
  }

  /**
   * Where the store is with this MCU: the boot and the next sample index of the last record
   * it wrote, written in the same LevelDB batch as that record. Samples below it that the MCU
   * sends again after a gateway restart (stored, but their COMMIT never reached the MCU) are
   * recognised as stored, and the MCU is told to drop them.
   */
  private async restoreCheckpoint(ctx: SourceContext, read: () => Promise<Uint8Array | undefined>): Promise<void> {
    let bytes: Uint8Array | undefined;
    try {
      bytes = await read();
    } catch (err) {
      ctx.events.warn('serial.checkpoint_unreadable', { code: 'E_STORE_READ', source: this.options.id, reason: (err as Error).message });
      return;
    }
    if (bytes === undefined) return;
    const cp = decodeCheckpoint(bytes);
    if (cp === undefined) {
      ctx.events.warn('serial.checkpoint_unreadable', { code: 'E_CHECKPOINT_INVALID', source: this.options.id, reason: 'not a serial-sensor checkpoint; samples the MCU sends again may be stored twice' });
      return;
    }
    this.bootId = cp.boot;
    this.highWater = cp.next;
    this.committedNext = cp.next;
    ctx.events.info('serial.checkpoint_restored', { source: this.options.id, bootId: cp.boot, nextIndex: cp.next });
  }

  async stop(): Promise<void> {
    this.stopping = true;
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    this.flushPendingSync(true);
    await this.emitChain;
    this.sendCommit();
    this.link?.close();
    await this.port?.stop();
  }

  /** Sends a firmware image to the MCU and resolves with its verdict. */
  updateFirmware(image: Uint8Array, options: Parameters<FirmwareSender['send']>[1] = {}): Promise<FirmwareResult> {
    if (this.firmware === undefined) return Promise.reject(new Error('serial sensor not started'));
    return this.firmware.send(image, options);
  }

  private onMessage(m: Message): void {
    switch (m.type) {
      case 'hello':
        this.onHello(m);
        return;
      case 'samples':
        this.onSamples(m);
        return;
      case 'timeSyncResponse': {
        const sentAt = this.syncRequests.get(m.requestId);
        if (sentAt === undefined) return;
        this.syncRequests.delete(m.requestId);
        this.timeSync.add({ sentAtMs: sentAt, receivedAtMs: wallNow(), tickUs: m.tickUs });
        this.lastTickUs = Math.max(this.lastTickUs, m.tickUs);
        this.flushPendingSync(false);
        return;
      }
      case 'log':
        this.ctx?.events[m.level === 'error' ? 'error' : m.level === 'warn' ? 'warn' : 'info']('mcu.log', { source: this.options.id, level: m.level, text: m.text });
        return;
      case 'fwResult':
        this.firmware?.onMessage(m);
        return;
      default:
        return;
    }
  }

  private newBoot(bootId: number): void {
    if (this.bootId !== null && this.bootId !== bootId) {
      this.counts.mcuReboots += 1;
      this.ctx?.events.warn('mcu.rebooted', { code: 'E_MCU_REBOOT', source: this.options.id, bootId });
    }
    if (this.bootId !== bootId) {
      this.bootId = bootId;
      this.highWater = undefined;
      this.committedNext = 0;
      this.commitQueue.length = 0; // batches of the old boot no longer hold up commits
      this.timeSync.reset();
      this.lastTickUs = 0;
      this.flushPendingSync(true);
    }
  }

  private onHello(m: HelloMessage): void {
    this.newBoot(m.bootId);
    this.hello = m;
    this.ctx?.events.info('mcu.hello', { source: this.options.id, deviceId: m.deviceId, firmwareVersion: m.firmwareVersion, bootId: m.bootId, channels: m.channels.map((c) => c.name) });
    const { sampleRateHz, channels } = this.options;
    if (sampleRateHz !== undefined || channels !== undefined) {
      let mask = (2 ** m.channels.length - 1) >>> 0;
      if (channels !== undefined) {
        mask = 0;
        m.channels.forEach((c, i) => {
          if (channels.includes(c.name)) mask = (mask | (1 << i)) >>> 0;
        });
      }
      const rate = sampleRateHz === undefined ? m.sampleRateMilliHz : Math.round(sampleRateHz * 1000);
      // The queue can be full (a firmware transfer is streaming): CONFIG follows the next HELLO then.
      if (mask !== 0 && this.link?.hasRoom() === true) this.link.sendReliable({ type: 'config', sampleRateMilliHz: rate, channelMask: mask }).catch(ignoreReset);
      else if (mask !== 0) this.ctx?.events.warn('serial.config_deferred', { source: this.options.id, reason: 'link queue full' });
    }
    for (let i = 0; i < SYNC_BURST; i += 1) setTimeout(() => this.requestTimeSync(), i * 25).unref();
  }

  private requestTimeSync(): void {
    if (this.link === undefined || this.port?.isOpen !== true) return;
    const requestId = this.nextRequestId;
    this.nextRequestId = (this.nextRequestId + 1) >>> 0 || 1;
    const now = wallNow();
    // Bounded: requests older than ten seconds will not be answered usefully any more.
    for (const [id, at] of this.syncRequests) if (now - at > 10_000) this.syncRequests.delete(id);
    this.syncRequests.set(requestId, now);
    this.link.sendUnreliable({ type: 'timeSyncRequest', requestId });
  }

  private onSamples(m: SamplesMessage): void {
    this.newBoot(m.bootId);
    let message = m;
    const end = m.firstIndex + m.count;
    if (this.highWater !== undefined) {
      if (end <= this.highWater) {
        // Sent again after a link loss: already stored (or on its way). Remind the MCU.
        this.counts.duplicateSamples += m.count;
        this.scheduleCommit();
        return;
      }
      if (m.firstIndex < this.highWater) {
        const skip = this.highWater - m.firstIndex;
        this.counts.duplicateSamples += skip;
        message = { ...m, firstIndex: this.highWater, firstTickUs: m.firstTickUs + Math.round((skip * 1e9) / m.sampleRateMilliHz), count: m.count - skip, values: m.values.map((v) => v.slice(skip)) };
      } else if (m.firstIndex > this.highWater) {
        this.counts.lostSamples += m.firstIndex - this.highWater;
        this.ctx?.events.warn('mcu.samples_lost', { code: 'E_MCU_OVERFLOW', source: this.options.id, from: this.highWater, to: m.firstIndex });
      }
    }
    this.highWater = end;
    this.counts.samplesReceived += message.count;
    this.lastTickUs = Math.max(this.lastTickUs, message.firstTickUs);
    this.pendingSync.push({ m: message, at: wallNow() });
    this.flushPendingSync(false);
  }

  /** Turns samples into records once their ticks can be mapped to wall time (or too late to wait). */
  private flushPendingSync(force: boolean): void {
    while (this.pendingSync.length > 0) {
      const first = this.pendingSync[0] as { m: SamplesMessage; at: number };
      const mapped = this.timeSync.toWall(first.m.firstTickUs);
      if (mapped === undefined && !force && wallNow() - first.at < PENDING_SYNC_MAX_MS && this.pendingSync.length < this.options.maxPendingRecords) return;
      this.pendingSync.shift();
      this.emit(first.m, mapped ?? { ms: first.at, errorMs: Number.POSITIVE_INFINITY });
    }
  }

  private channelsOf(mask: number): Channel[] {
    const out: Channel[] = [];
    for (let i = 0; i < 32; i += 1) if ((mask >>> i) & 1) out.push(this.hello?.channels[i] ?? { name: `ch${i}`, unit: '' });
    return out;
  }

  private emit(m: SamplesMessage, time: { ms: number; errorMs: number }): void {
    const ctx = this.ctx;
    if (ctx === undefined) return;
    const channels = this.channelsOf(m.channelMask);
    const values: Record<string, readonly number[]> = {};
    const units: Record<string, string> = {};
    channels.forEach((c, i) => {
      values[c.name] = m.values[i] ?? [];
      units[c.name] = c.unit;
    });
    const record: RecordInput = {
      stream: this.options.stream,
      class: this.options.class,
      ts: time.ms,
      data: {
        device: this.hello?.deviceId ?? null,
        boot: m.bootId,
        n: m.firstIndex,
        rateHz: m.sampleRateMilliHz / 1000,
        // null: no time sync yet; ts is the arrival time.
        tsErrorMs: Number.isFinite(time.errorMs) ? Math.round(time.errorMs * 1000) / 1000 : null,
        values,
        units,
      },
    };
    const entry = { bootId: m.bootId, next: m.firstIndex + m.count, decided: false, commit: false };
    this.commitQueue.push(entry);
    this.inFlight += 1;
    if (this.inFlight >= this.options.maxPendingRecords && !this.paused) {
      this.paused = true;
      this.port?.pause(); // the tty buffer fills, then the MCU's window: backpressure to the sensor
    }
    // Emits stay in order (and wait for edge space); their store outcomes are awaited side by
    // side, so the store can commit many records in one batch.
    this.emitChain = this.emitChain
      .then(() => ctx.emit([record], { checkpoint: encodeCheckpoint({ boot: m.bootId, next: entry.next }) }))
      .then(
        (receipt) => {
          receipt.stored.then(
            (result) => this.onDecided(entry, result),
            (err: unknown) => this.onDecided(entry, undefined, err),
          );
        },
        (err: unknown) => this.onDecided(entry, undefined, err),
      );
  }

  /**
   * A batch's fate is known. COMMIT moves only over a prefix of batches that are all decided,
   * and only over records the store took (stored or evicted by the budget) or a stage folded
   * away, or that a queue policy dropped while running. Drops while the gateway is stopping
   * and failures are never committed: the MCU keeps those samples and sends them again.
   */
  private onDecided(entry: { bootId: number; next: number; decided: boolean; commit: boolean }, result: EmitResult | undefined, err?: unknown): void {
    if (err !== undefined) this.ctx?.events.error('serial.emit_failed', { source: this.options.id, reason: (err as Error).message });
    entry.decided = true;
    entry.commit = result !== undefined && !(this.stopping && result.dropped > 0);
    this.inFlight -= 1;
    if (this.paused && this.inFlight < this.options.maxPendingRecords / 2) {
      this.paused = false;
      this.port?.resume();
    }
    let advanced = false;
    while (this.commitQueue.length > 0 && (this.commitQueue[0] as typeof entry).decided) {
      const head = this.commitQueue[0] as typeof entry;
      if (!head.commit) break; // everything from here on waits for the MCU to send it again
      this.commitQueue.shift();
      if (head.bootId === this.bootId && head.next > this.committedNext) {
        this.committedNext = head.next;
        advanced = true;
      }
    }
    if (advanced) this.scheduleCommit();
  }

  private scheduleCommit(): void {
    if (this.commitScheduled) return;
    this.commitScheduled = true;
    setImmediate(() => {
      this.commitScheduled = false;
      this.sendCommit();
    });
  }

  private sendCommit(): void {
    if (this.bootId === null || this.committedNext === 0 || this.port?.isOpen !== true) return;
    this.link?.sendUnreliable({ type: 'commit', bootId: this.bootId, nextIndex: this.committedNext });
  }
}

/** The source's checkpoint: `{"boot":B,"next":N}` (UTF-8 JSON, readable in `ldb scan`). */
interface SerialCheckpoint {
  readonly boot: number;
  readonly next: number;
}

function encodeCheckpoint(cp: SerialCheckpoint): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(cp));
}

function decodeCheckpoint(bytes: Uint8Array): SerialCheckpoint | undefined {
  try {
    const v = JSON.parse(new TextDecoder().decode(bytes)) as Partial<SerialCheckpoint>;
    if (Number.isSafeInteger(v.boot) && Number.isSafeInteger(v.next) && (v.next as number) >= 0) return { boot: v.boot as number, next: v.next as number };
  } catch {
    // not ours
  }
  return undefined;
}

function ignoreReset(err: unknown): void {
  if (!(err instanceof LinkResetError)) throw err;
}
