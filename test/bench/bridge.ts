import { FLAG_RELIABLE, FLAG_SYN, FrameDecoder, encodeFrame } from '../../firmware-bridge/frame.js';
import { MAX_SAMPLES_VALUES, decodePayload, encodePayload, messageCode, type Message } from '../../firmware-bridge/messages.js';
import { SerialSensorSource } from '../../devices/serial-sensor/serial-sensor.js';
import type { PortCounters, PortOptions, SerialTransport } from '../../devices/serial-sensor/port.js';
import { Pipeline } from '../../runtime/pipeline/pipeline.js';
import { StoreWriter } from '../../runtime/store/store-writer.js';
import { openOutbox, quietEvents } from '../support/store.js';
import { makeTempDir } from '../support/temp-dir.js';
import { finish, median, progress } from './report.js';

/**
 * `npm run bench -- bridge`: samples per second (one value of one channel) through frame
 * decoding, the link layer and the serial-sensor source into the LevelDB outbox (group
 * commit, `sync: true` as by default), against a loop that only splits the same bytes on 0x00 (the floor
 * any decoder pays). The bytes are what an MCU sends: HELLO, then SAMPLES frames of 3
 * channels x 83 samples, fed in 4 KiB chunks as a serial driver hands them over.
 */
const CHANNELS = 3;
const PER_FRAME = Math.floor(MAX_SAMPLES_VALUES / CHANNELS);
const FRAMES = 6000;
const CHUNK = 4096;
const ROUNDS = 3;
const BOOT = 0x5eed;

function wireBytes(): Uint8Array {
  const parts: Uint8Array[] = [];
  let seq = 100;
  const reliable = (m: Message, syn = false): void => {
    parts.push(encodeFrame({ type: messageCode(m.type), flags: FLAG_RELIABLE | (syn ? FLAG_SYN : 0), session: 9, seq: seq++ & 0xffff, payload: encodePayload(m) }));
  };
  reliable({ type: 'hello', bootId: BOOT, deviceId: 'bench-mcu', firmwareVersion: '1', sampleRateMilliHz: 10_000_000, channels: [{ name: 'vibration', unit: 'g' }, { name: 'temperature', unit: 'degC' }, { name: 'current', unit: 'A' }] }, true);
  for (let f = 0; f < FRAMES; f += 1) {
    const values = Array.from({ length: CHANNELS }, (_, c) => Array.from({ length: PER_FRAME }, (_, k) => Math.fround(Math.sin((f * PER_FRAME + k) / 50 + c))));
    reliable({ type: 'samples', bootId: BOOT, firstIndex: f * PER_FRAME, firstTickUs: f * PER_FRAME * 100, sampleRateMilliHz: 10_000_000, channelMask: 0b111, count: PER_FRAME, values });
  }
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** An in-memory serial line: hands the bytes over in chunks, honours pause, answers time sync. */
class BenchTransport implements SerialTransport {
  readonly counters: PortCounters = { opens: 1, closes: 0, openFailures: 0, writeErrors: 0, droppedWriteBytes: 0, bytesIn: 0, bytesOut: 0 };
  readonly isOpen = true;
  private paused = false;
  private resumeWaiter: (() => void) | undefined;
  private readonly decoder = new FrameDecoder();
  /** Replies wait for a frame boundary in the stream, as an MCU would send them. */
  private replies: Uint8Array[] = [];

  constructor(private readonly options: PortOptions) {}

  start(): void {
    this.options.onOpen?.();
  }
  write(bytes: Uint8Array): void {
    this.decoder.push(bytes, (frame) => {
      const d = decodePayload(frame.type, frame.payload);
      if ('message' in d && d.message.type === 'timeSyncRequest') {
        const m: Message = { type: 'timeSyncResponse', requestId: d.message.requestId, tickUs: 0 };
        this.replies.push(encodeFrame({ type: messageCode(m.type), flags: 0, session: 0, seq: 0, payload: encodePayload(m) }));
      }
    });
  }
  pause(): void {
    this.paused = true;
  }
  resume(): void {
    this.paused = false;
    this.resumeWaiter?.();
  }
  async stop(): Promise<void> {}

  /** Hands the bytes over in chunks of about CHUNK bytes that end on a frame delimiter. */
  async feed(bytes: Uint8Array): Promise<void> {
    let n = 0;
    for (let at = 0; at < bytes.length; ) {
      while (this.paused) await new Promise<void>((r) => (this.resumeWaiter = r));
      const z = bytes.indexOf(0, Math.min(bytes.length - 1, at + CHUNK));
      const end = z === -1 ? bytes.length : z + 1;
      this.options.onData(bytes.subarray(at, end));
      at = end;
      for (const r of this.replies.splice(0)) this.options.onData(r);
      if (++n % 16 === 0) await new Promise((r) => setImmediate(r)); // let the store work
    }
  }
}

async function bridgeRound(dir: string, bytes: Uint8Array): Promise<number> {
  // The default store settings: every batch fsynced.
  const o = await openOutbox(dir, { maxSizeBytes: 1 << 30, sync: true });
  let transport: BenchTransport | undefined;
  const source = new SerialSensorSource({
    id: 'bench',
    path: '/dev/null',
    baudRate: 921_600,
    stream: 'bench',
    class: 'telemetry',
    sampleRateHz: undefined,
    channels: undefined,
    retransmitTimeoutMs: 250,
    timeSyncIntervalMs: 1000,
    reopenMinDelayMs: 100,
    reopenMaxDelayMs: 1000,
    maxPendingRecords: 1000,
    openTransport: (options) => (transport = new BenchTransport(options)),
  });
  const queue = { maxRecords: 10_000, whenFull: 'block' as const, sampleEvery: 2 };
  const pipeline = new Pipeline({ id: 'bench', sourceId: 'bench', sourceType: 'serial-sensor', source, stages: [], queue }, quietEvents());
  const writer = new StoreWriter(o.outbox, quietEvents(), { batchMaxRecords: 2000, retryMinDelayMs: 100, retryMaxDelayMs: 1000 });
  writer.attach(pipeline.output);
  writer.start();
  await pipeline.start();
  const t0 = process.hrtime.bigint();
  await (transport as BenchTransport).feed(bytes);
  let spins = 0;
  while (o.outbox.size < FRAMES) {
    await new Promise((r) => setImmediate(r));
    if (process.env['BENCH_DEBUG'] !== undefined && ++spins % 200000 === 0) progress(`    outbox ${o.outbox.size}, source ${JSON.stringify(source.stats())}`);
  }
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  await pipeline.stopSource();
  await writer.whenIdle();
  await writer.stop();
  await o.close();
  return (FRAMES * PER_FRAME * CHANNELS) / s;
}

function splitRound(bytes: Uint8Array): number {
  const t0 = process.hrtime.bigint();
  let frames = 0;
  let pending = false; // bytes of a frame seen since the last delimiter (across chunks)
  for (let at = 0; at < bytes.length; at += CHUNK) {
    const chunk = bytes.subarray(at, at + CHUNK);
    let from = 0;
    for (let z = chunk.indexOf(0, from); z !== -1; z = chunk.indexOf(0, from)) {
      if (z > from || pending) frames += 1;
      pending = false;
      from = z + 1;
    }
    if (from < chunk.length) pending = true;
  }
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  if (frames < FRAMES) throw new Error('split lost frames');
  return (FRAMES * PER_FRAME * CHANNELS) / s;
}

export async function benchBridge(): Promise<void> {
  const bytes = wireBytes();
  progress(`bridge: ${ROUNDS} rounds x ${FRAMES} SAMPLES frames (${CHANNELS} channels x ${PER_FRAME} samples, ${(bytes.length / 1e6).toFixed(1)} MB) in ${CHUNK}-byte chunks`);
  const tmp = await makeTempDir('edgewise-bench-');
  const ours: number[] = [];
  const floor: number[] = [];
  try {
    for (let r = 0; r < ROUNDS; r += 1) {
      floor.push(splitRound(bytes));
      ours.push(await bridgeRound(`${tmp.path}/r${r}`, bytes));
      progress(`  round ${r + 1}/${ROUNDS}: decode+link+source+outbox ${Math.round(ours[r] as number)} samples/s; split on 0x00 ${Math.round(floor[r] as number)} samples/s`);
    }
  } finally {
    await tmp.remove();
  }
  finish('bridge', median(ours), median(floor), 'samples/s');
}
