import { ByteReader, ByteWriter } from './byte-io.js';
import { MAX_PAYLOAD } from './frame.js';

/**
 * Message types and their payload layouts (all little-endian; `str8` is a u8 length then
 * UTF-8 bytes, `str16` a u16 length then UTF-8 bytes). PROTOCOL.md has the tables.
 */
export const MessageType = {
  HELLO: 0x01,
  SAMPLES: 0x02,
  ACK: 0x03,
  NACK: 0x04,
  CONFIG: 0x05,
  TIME_SYNC_REQUEST: 0x06,
  TIME_SYNC_RESPONSE: 0x07,
  LOG: 0x08,
  COMMIT: 0x09,
  FW_BEGIN: 0x0a,
  FW_CHUNK: 0x0b,
  FW_END: 0x0c,
  FW_RESULT: 0x0d,
} as const;

export interface Channel {
  readonly name: string;
  readonly unit: string;
}

export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
export const NACK_REASONS = ['gap', 'unsynced'] as const;
export type NackReason = (typeof NACK_REASONS)[number];

export type Message =
  /** MCU -> gateway, first frame of every link session: who it is and what it measures. */
  | { readonly type: 'hello'; readonly bootId: number; readonly deviceId: string; readonly firmwareVersion: string; readonly sampleRateMilliHz: number; readonly channels: readonly Channel[] }
  /**
   * MCU -> gateway: `count` samples of each channel in `channelMask` (bit i = HELLO channel
   * i), channel-major. Sample k of this frame is sample `firstIndex + k` since boot, taken at
   * MCU tick `firstTickUs + k * 1e9 / sampleRateMilliHz` microseconds.
   */
  | {
      readonly type: 'samples';
      readonly bootId: number;
      readonly firstIndex: number;
      readonly firstTickUs: number;
      readonly sampleRateMilliHz: number;
      readonly channelMask: number;
      readonly count: number;
      /** One array of `count` values per channel in the mask, in channel order. */
      readonly values: readonly (readonly number[])[];
    }
  /**
   * Either way: every reliable frame up to and including `seq` of the session in the header
   * arrived, and so did frame `seq + 2 + i` for every bit i set in `received` (selective
   * acknowledgement of frames that arrived after the gap at `seq + 1`).
   */
  | { readonly type: 'ack'; readonly seq: number; readonly received: number }
  /** Either way: frame `expectedSeq` is missing (`gap`), or no session is known (`unsynced`). */
  | { readonly type: 'nack'; readonly expectedSeq: number; readonly reason: NackReason }
  /** Gateway -> MCU: sample rate and which channels to send. */
  | { readonly type: 'config'; readonly sampleRateMilliHz: number; readonly channelMask: number }
  | { readonly type: 'timeSyncRequest'; readonly requestId: number }
  /** MCU -> gateway: its free-running microsecond tick when it handled the request. */
  | { readonly type: 'timeSyncResponse'; readonly requestId: number; readonly tickUs: number }
  | { readonly type: 'log'; readonly level: LogLevel; readonly text: string }
  /** Gateway -> MCU: samples of boot `bootId` before `nextIndex` are stored; drop them. */
  | { readonly type: 'commit'; readonly bootId: number; readonly nextIndex: number }
  | { readonly type: 'fwBegin'; readonly size: number; readonly sha256: Uint8Array; readonly chunkSize: number }
  | { readonly type: 'fwChunk'; readonly offset: number; readonly data: Uint8Array }
  | { readonly type: 'fwEnd' }
  | { readonly type: 'fwResult'; readonly ok: boolean; readonly code: number; readonly message: string };

export type MessageName = Message['type'];

const codes: Readonly<Record<MessageName, number>> = {
  hello: MessageType.HELLO,
  samples: MessageType.SAMPLES,
  ack: MessageType.ACK,
  nack: MessageType.NACK,
  config: MessageType.CONFIG,
  timeSyncRequest: MessageType.TIME_SYNC_REQUEST,
  timeSyncResponse: MessageType.TIME_SYNC_RESPONSE,
  log: MessageType.LOG,
  commit: MessageType.COMMIT,
  fwBegin: MessageType.FW_BEGIN,
  fwChunk: MessageType.FW_CHUNK,
  fwEnd: MessageType.FW_END,
  fwResult: MessageType.FW_RESULT,
};

/** Messages that ride the reliable link (sequenced, acknowledged, retransmitted). */
const reliable: ReadonlySet<MessageName> = new Set(['hello', 'samples', 'config', 'log', 'fwBegin', 'fwChunk', 'fwEnd', 'fwResult']);

export function messageCode(name: MessageName): number {
  return codes[name];
}

export function isReliable(name: MessageName): boolean {
  return reliable.has(name);
}

/** Bytes of a SAMPLES payload before the values. */
export const SAMPLES_HEADER_LENGTH = 30;
/** Most values (channels x samples) one SAMPLES frame can carry. */
export const MAX_SAMPLES_VALUES = Math.floor((MAX_PAYLOAD - SAMPLES_HEADER_LENGTH) / 4);
export const MAX_CHANNELS = 32;
export const FW_SHA256_LENGTH = 32;

export function popcount(mask: number): number {
  let n = 0;
  for (let m = mask >>> 0; m !== 0; m &= m - 1) n += 1;
  return n;
}

/** The payload bytes of a message. Throws RangeError for a message that cannot be encoded. */
export function encodePayload(m: Message): Uint8Array {
  const w = new ByteWriter(m.type === 'samples' ? SAMPLES_HEADER_LENGTH + 4 * m.count * m.values.length : 32);
  switch (m.type) {
    case 'hello':
      if (m.channels.length > MAX_CHANNELS) throw new RangeError(`hello: ${m.channels.length} channels; at most ${MAX_CHANNELS}`);
      w.u32(m.bootId).str8(m.deviceId).str8(m.firmwareVersion).u32(m.sampleRateMilliHz).u8(m.channels.length);
      for (const c of m.channels) w.str8(c.name).str8(c.unit);
      break;
    case 'samples':
      if (m.values.length !== popcount(m.channelMask)) throw new RangeError(`samples: ${m.values.length} channels of values for a mask with ${popcount(m.channelMask)}`);
      if (m.count * m.values.length > MAX_SAMPLES_VALUES) throw new RangeError(`samples: ${m.count * m.values.length} values; at most ${MAX_SAMPLES_VALUES}`);
      w.u32(m.bootId).u64(m.firstIndex).u64(m.firstTickUs).u32(m.sampleRateMilliHz).u32(m.channelMask).u16(m.count);
      for (const ch of m.values) {
        if (ch.length !== m.count) throw new RangeError(`samples: a channel with ${ch.length} values, expected ${m.count}`);
        for (const v of ch) w.f32(v);
      }
      break;
    case 'ack':
      w.u16(m.seq).u32(m.received);
      break;
    case 'nack':
      w.u16(m.expectedSeq).u8(NACK_REASONS.indexOf(m.reason) + 1);
      break;
    case 'config':
      w.u32(m.sampleRateMilliHz).u32(m.channelMask);
      break;
    case 'timeSyncRequest':
      w.u32(m.requestId);
      break;
    case 'timeSyncResponse':
      w.u32(m.requestId).u64(m.tickUs);
      break;
    case 'log':
      w.u8(LOG_LEVELS.indexOf(m.level)).str16(m.text);
      break;
    case 'commit':
      w.u32(m.bootId).u64(m.nextIndex);
      break;
    case 'fwBegin':
      if (m.sha256.length !== FW_SHA256_LENGTH) throw new RangeError('fwBegin: sha256 must be 32 bytes');
      w.u32(m.size).bytes(m.sha256).u16(m.chunkSize);
      break;
    case 'fwChunk':
      w.u32(m.offset).bytes(m.data);
      break;
    case 'fwEnd':
      break;
    case 'fwResult':
      w.u8(m.ok ? 1 : 0).u8(m.code).str8(m.message);
      break;
  }
  const out = w.finish();
  if (out.length > MAX_PAYLOAD) throw new RangeError(`${m.type}: payload of ${out.length} bytes; at most ${MAX_PAYLOAD}`);
  return out;
}

export type DecodeResult = { readonly message: Message } | { readonly error: string };

/** Decodes a payload of a frame of `code`. Never throws; a bad payload is an error naming why. */
export function decodePayload(code: number, payload: Uint8Array): DecodeResult {
  const r = new ByteReader(payload);
  let m: Message;
  switch (code) {
    case MessageType.HELLO: {
      const bootId = r.u32();
      const deviceId = r.str8();
      const firmwareVersion = r.str8();
      const sampleRateMilliHz = r.u32();
      const n = r.u8();
      if (n > MAX_CHANNELS) return { error: `hello: ${n} channels; at most ${MAX_CHANNELS}` };
      const channels: Channel[] = [];
      for (let i = 0; i < n && !r.failed; i += 1) channels.push({ name: r.str8(), unit: r.str8() });
      m = { type: 'hello', bootId, deviceId, firmwareVersion, sampleRateMilliHz, channels };
      break;
    }
    case MessageType.SAMPLES: {
      const bootId = r.u32();
      const firstIndex = r.u64();
      const firstTickUs = r.u64();
      const sampleRateMilliHz = r.u32();
      const channelMask = r.u32();
      const count = r.u16();
      if (r.failed) return { error: 'samples: truncated header' };
      const channels = popcount(channelMask);
      if (r.remaining !== channels * count * 4) return { error: `samples: ${r.remaining} bytes of values for ${channels} channels x ${count} samples` };
      if (sampleRateMilliHz === 0) return { error: 'samples: sample rate 0' };
      const values: number[][] = [];
      for (let c = 0; c < channels; c += 1) values.push(r.f32s(count));
      m = { type: 'samples', bootId, firstIndex, firstTickUs, sampleRateMilliHz, channelMask, count, values };
      break;
    }
    case MessageType.ACK:
      m = { type: 'ack', seq: r.u16(), received: r.u32() };
      break;
    case MessageType.NACK: {
      const expectedSeq = r.u16();
      const reason = NACK_REASONS[r.u8() - 1];
      if (reason === undefined) return { error: 'nack: unknown reason' };
      m = { type: 'nack', expectedSeq, reason };
      break;
    }
    case MessageType.CONFIG:
      m = { type: 'config', sampleRateMilliHz: r.u32(), channelMask: r.u32() };
      break;
    case MessageType.TIME_SYNC_REQUEST:
      m = { type: 'timeSyncRequest', requestId: r.u32() };
      break;
    case MessageType.TIME_SYNC_RESPONSE:
      m = { type: 'timeSyncResponse', requestId: r.u32(), tickUs: r.u64() };
      break;
    case MessageType.LOG: {
      const level = LOG_LEVELS[r.u8()];
      const text = r.str16();
      if (level === undefined) return { error: 'log: unknown level' };
      m = { type: 'log', level, text };
      break;
    }
    case MessageType.COMMIT:
      m = { type: 'commit', bootId: r.u32(), nextIndex: r.u64() };
      break;
    case MessageType.FW_BEGIN:
      m = { type: 'fwBegin', size: r.u32(), sha256: r.bytes(FW_SHA256_LENGTH), chunkSize: r.u16() };
      break;
    case MessageType.FW_CHUNK: {
      const offset = r.u32();
      m = { type: 'fwChunk', offset, data: r.bytes(r.remaining) };
      break;
    }
    case MessageType.FW_END:
      m = { type: 'fwEnd' };
      break;
    case MessageType.FW_RESULT: {
      const ok = r.u8();
      if (ok > 1) return { error: 'fwResult: ok must be 0 or 1' };
      m = { type: 'fwResult', ok: ok === 1, code: r.u8(), message: r.str8() };
      break;
    }
    default:
      return { error: `unknown message type 0x${code.toString(16).padStart(2, '0')}` };
  }
  if (r.failed) return { error: `${m.type}: truncated payload` };
  if (r.remaining !== 0) return { error: `${m.type}: ${r.remaining} bytes after the payload` };
  return { message: m };
}
