import { cobsDecodeInto, cobsEncodeInto, cobsMaxEncodedLength } from './cobs.js';
import { crc32c } from './crc32c.js';

/**
 * The frame: `COBS(header | payload | crc32c) 0x00`.
 *
 *   offset  size  field
 *   0       1     version   (1)
 *   1       1     type      (see messages.ts)
 *   2       1     flags     bit 0 RELIABLE, bit 1 SYN, others 0
 *   3       1     session   link session id (0 on unreliable frames)
 *   4       2     seq       u16 LE; 0 on unreliable frames
 *   6       n     payload   0..1024 bytes
 *   6+n     4     crc       CRC-32C (LE) of bytes 0..6+n
 *
 * See PROTOCOL.md for the link rules.
 */
export const PROTOCOL_VERSION = 1;
export const HEADER_LENGTH = 6;
export const CRC_LENGTH = 4;
export const MAX_PAYLOAD = 1024;
export const MAX_RAW_FRAME = HEADER_LENGTH + MAX_PAYLOAD + CRC_LENGTH;
/** The longest run of non-zero bytes a valid frame can be on the wire. */
export const MAX_ENCODED_FRAME = cobsMaxEncodedLength(MAX_RAW_FRAME);

export const FLAG_RELIABLE = 0x01;
export const FLAG_SYN = 0x02;

export interface Frame {
  readonly version: number;
  readonly type: number;
  readonly flags: number;
  readonly session: number;
  readonly seq: number;
  readonly payload: Uint8Array;
}

/** Encodes a frame with its trailing 0x00. Throws RangeError for a payload over MAX_PAYLOAD. */
export function encodeFrame(frame: Omit<Frame, 'version'> & { version?: number }): Uint8Array {
  const n = frame.payload.length;
  if (n > MAX_PAYLOAD) throw new RangeError(`frame payload of ${n} bytes; at most ${MAX_PAYLOAD}`);
  const raw = new Uint8Array(HEADER_LENGTH + n + CRC_LENGTH);
  raw[0] = frame.version ?? PROTOCOL_VERSION;
  raw[1] = frame.type;
  raw[2] = frame.flags;
  raw[3] = frame.session;
  raw[4] = frame.seq & 0xff;
  raw[5] = (frame.seq >>> 8) & 0xff;
  raw.set(frame.payload, HEADER_LENGTH);
  const crc = crc32c(raw, 0, HEADER_LENGTH + n);
  const at = HEADER_LENGTH + n;
  raw[at] = crc & 0xff;
  raw[at + 1] = (crc >>> 8) & 0xff;
  raw[at + 2] = (crc >>> 16) & 0xff;
  raw[at + 3] = (crc >>> 24) & 0xff;
  const out = new Uint8Array(cobsMaxEncodedLength(raw.length) + 1);
  const end = cobsEncodeInto(raw, out, 0);
  out[end] = 0;
  return out.subarray(0, end + 1);
}

export interface DecoderCounters {
  /** Frames that passed every check and were emitted. */
  frames: number;
  /** Frames whose CRC did not match (never emitted). */
  crcErrors: number;
  /** Blocks that were not valid COBS, were too short, or had an unknown version. */
  malformed: number;
  /** Runs of bytes longer than any frame can be (skipped to the next 0x00). */
  oversize: number;
  /** Bytes thrown away in bad blocks. */
  discardedBytes: number;
  /** Times the decoder found a good frame again after throwing bytes away. */
  resyncs: number;
}

/**
 * A streaming frame decoder. `push` takes bytes as they come off the wire, in chunks of any
 * size, and calls `onFrame` for each frame whose COBS, length, version and CRC are all
 * good. It never throws on any input and never emits a frame with a bad CRC. Memory is
 * bounded by one maximal frame.
 */
export class FrameDecoder {
  readonly counters: DecoderCounters = { frames: 0, crcErrors: 0, malformed: 0, oversize: 0, discardedBytes: 0, resyncs: 0 };
  private readonly acc = new Uint8Array(MAX_ENCODED_FRAME);
  private accLength = 0;
  private skipping = false;
  private lostSync = false;
  private readonly raw = new Uint8Array(MAX_RAW_FRAME);

  push(chunk: Uint8Array, onFrame: (frame: Frame) => void): void {
    for (let i = 0; i < chunk.length; i += 1) {
      const b = chunk[i] as number;
      if (b === 0) {
        const length = this.accLength;
        // Reset before the callback runs: whatever it does, the next frame starts clean.
        this.accLength = 0;
        if (this.skipping) {
          this.skipping = false;
        } else if (length > 0) {
          this.finishBlock(length, onFrame);
        }
        continue;
      }
      if (this.skipping) {
        this.counters.discardedBytes += 1;
        continue;
      }
      if (this.accLength === this.acc.length) {
        // No valid frame is this long: drop what we have and skip to the next delimiter.
        this.counters.oversize += 1;
        this.counters.discardedBytes += this.accLength + 1;
        this.accLength = 0;
        this.skipping = true;
        this.lostSync = true;
        continue;
      }
      this.acc[this.accLength] = b;
      this.accLength += 1;
    }
  }

  private discard(kind: 'crcErrors' | 'malformed', length: number): void {
    this.counters[kind] += 1;
    this.counters.discardedBytes += length;
    this.lostSync = true;
  }

  private finishBlock(length: number, onFrame: (frame: Frame) => void): void {
    const n = cobsDecodeInto(this.acc, 0, length, this.raw);
    if (n < HEADER_LENGTH + CRC_LENGTH || n > MAX_RAW_FRAME) {
      this.discard('malformed', length);
      return;
    }
    const raw = this.raw;
    const body = n - CRC_LENGTH;
    const crc = ((raw[body] as number) | ((raw[body + 1] as number) << 8) | ((raw[body + 2] as number) << 16) | ((raw[body + 3] as number) << 24)) >>> 0;
    if (crc32c(raw, 0, body) !== crc) {
      this.discard('crcErrors', length);
      return;
    }
    if (raw[0] !== PROTOCOL_VERSION) {
      this.discard('malformed', length);
      return;
    }
    this.counters.frames += 1;
    if (this.lostSync) {
      this.counters.resyncs += 1;
      this.lostSync = false;
    }
    onFrame({
      version: raw[0] as number,
      type: raw[1] as number,
      flags: raw[2] as number,
      session: raw[3] as number,
      seq: (raw[4] as number) | ((raw[5] as number) << 8),
      payload: raw.slice(HEADER_LENGTH, body),
    });
  }
}
