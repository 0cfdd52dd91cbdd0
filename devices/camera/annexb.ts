/**
 * A streaming H.264 Annex B parser: bytes in, split anywhere, complete access units out.
 *
 * NAL units are delimited by start codes (00 00 01, optionally preceded by more zeros).
 * An access unit (one picture) ends where the next one begins: at an AUD, SEI, SPS or PPS
 * once the current unit has a slice, or at a slice whose first_mb_in_slice is 0 (H.264
 * 7.4.1.2.3). So a unit is complete only when the next one starts arriving: a live stream
 * costs one frame of latency here, and `end()` flushes the last unit of a file.
 *
 * Output units carry every NAL unit of the picture, each behind a 4-byte start code
 * (normalised, so the same picture always gives the same bytes). Memory is bounded:
 * the buffer never holds more than `maxAuBytes` plus one input piece; a larger unit, or a
 * run of bytes without a start code, is discarded and counted.
 */

export interface AccessUnit {
  /** Every NAL unit of the picture, each behind 00 00 00 01. */
  readonly data: Uint8Array;
  /** Contains an IDR slice: decoding can start here. */
  readonly key: boolean;
  /** The picture's SPS NAL unit (header byte included, no start code), when it carries one. */
  readonly sps?: Uint8Array;
}

export interface AnnexBCounters {
  /** Bytes pushed. */
  bytes: number;
  /** Bytes thrown away: before the first start code, invalid NAL units, oversize or slice-less units, a reset's partial unit. */
  garbageBytes: number;
  /** Valid NAL units seen. */
  nalUnits: number;
  /** Access units delivered. */
  accessUnits: number;
  /** Delivered access units with an IDR slice. */
  keyframes: number;
  /** Access units discarded for exceeding `maxAuBytes` (a lost start code, or garbage). */
  oversizeDrops: number;
}

export interface AnnexBOptions {
  /** Largest access unit kept, bytes. 4 MiB holds a 4K IDR at any sane bitrate. */
  readonly maxAuBytes?: number;
}

export const DEFAULT_MAX_AU_BYTES = 4 * 1024 * 1024;
/** Pushes are processed in pieces of at most this size, which bounds the buffer's overshoot. */
const PIECE_BYTES = 64 * 1024;
/** A run of zeros longer than this outside a NAL unit is garbage, not start-code padding. */
const MAX_ZERO_RUN = 64 * 1024;
const START_CODE = new Uint8Array([0, 0, 0, 1]);

const NAL_IDR = 5;
const NAL_SPS = 7;
/** NAL types that begin a new access unit once the current one has a slice: SEI, SPS, PPS, AUD, 13-18. */
const STARTS_AU = new Set([6, 7, 8, 9, 13, 14, 15, 16, 17, 18]);

export class AnnexBParser {
  readonly counters: AnnexBCounters = { bytes: 0, garbageBytes: 0, nalUnits: 0, accessUnits: 0, keyframes: 0, oversizeDrops: 0 };
  private readonly maxAuBytes: number;
  private buf = new Uint8Array(256 * 1024);
  private len = 0;
  /** Where the current NAL unit's payload starts in `buf`; -1 while looking for a start code. */
  private nalStart = -1;
  /** The current NAL unit's header was looked at (and the access unit ended before it if it starts a new one). */
  private headerSeen = false;
  /** Where the next start-code search resumes. */
  private scanPos = 0;
  private au: Uint8Array[] = [];
  private auBytes = 0;
  private auHasSlice = false;
  private auKey = false;
  private auSps: Uint8Array | undefined;
  private out: AccessUnit[] = [];

  constructor(options: AnnexBOptions = {}) {
    this.maxAuBytes = options.maxAuBytes ?? DEFAULT_MAX_AU_BYTES;
  }

  /** Feeds bytes; returns the access units they completed (possibly none). */
  push(chunk: Uint8Array): AccessUnit[] {
    this.counters.bytes += chunk.length;
    for (let off = 0; off < chunk.length; off += PIECE_BYTES) this.pushPiece(chunk.subarray(off, Math.min(chunk.length, off + PIECE_BYTES)));
    return this.take();
  }

  /** End of stream (end of file): the pending NAL unit and access unit are complete. */
  end(): AccessUnit[] {
    if (this.nalStart >= 0) this.completeNal(this.nalStart, this.len);
    else this.discard(this.len);
    this.finishAu();
    this.len = 0;
    this.nalStart = -1;
    this.scanPos = 0;
    return this.take();
  }

  /** The stream broke off (a dropped connection): whatever is pending is truncated, so it is discarded. */
  reset(): void {
    if (this.nalStart >= 0) this.counters.garbageBytes += this.len - this.nalStart + 3;
    else this.discard(this.len);
    this.counters.garbageBytes += this.auBytes;
    this.dropAu();
    this.len = 0;
    this.nalStart = -1;
    this.scanPos = 0;
  }

  private take(): AccessUnit[] {
    const out = this.out;
    this.out = [];
    return out;
  }

  private pushPiece(piece: Uint8Array): void {
    this.append(piece);
    const buf = this.buf;
    let i = Math.max(this.scanPos, this.nalStart, 0);
    const last = this.len - 3;
    while (i <= last) {
      // Skip ahead two bytes unless this byte could be the middle zero of 00 00 01.
      if (buf[i + 2]! > 1) {
        i += 3;
      } else if (buf[i] === 0 && buf[i + 1] === 0 && buf[i + 2] === 1) {
        if (this.nalStart >= 0) this.completeNal(this.nalStart, i);
        else this.discard(i);
        this.nalStart = i + 3;
        this.headerSeen = false;
        this.peekHeader();
        i += 3;
      } else {
        i += 1;
      }
    }
    this.scanPos = Math.max(this.len - 2, 0);
    this.peekHeader();
    if (this.nalStart < 0) {
      // Out of sync: keep only what could begin a start code (the trailing zeros).
      let k = this.len;
      while (k > 0 && buf[k - 1] === 0 && this.len - k < MAX_ZERO_RUN) k -= 1;
      this.discard(k);
      this.compact(k);
    } else if (this.auBytes + (this.len - this.nalStart) + 4 > this.maxAuBytes) {
      this.counters.oversizeDrops += 1;
      this.counters.garbageBytes += this.len - this.nalStart + 3;
      this.dropAu();
      this.nalStart = -1;
      this.compact(Math.max(this.len - 2, 0));
    }
  }

  /** Counts bytes [0, end) of the buffer as garbage (trailing zeros excepted: they pad the start code). */
  private discard(end: number): void {
    let k = end;
    while (k > 0 && this.buf[k - 1] === 0) k -= 1;
    this.counters.garbageBytes += k;
  }

  private append(piece: Uint8Array): void {
    if (this.len + piece.length > this.buf.length) {
      this.compact(Math.max(0, this.nalStart));
      if (this.len + piece.length > this.buf.length) {
        const grown = new Uint8Array(Math.max(this.buf.length * 2, this.len + piece.length));
        grown.set(this.buf.subarray(0, this.len));
        this.buf = grown;
      }
    }
    this.buf.set(piece, this.len);
    this.len += piece.length;
  }

  /** Drops buffer bytes before `from`, shifting positions. */
  private compact(from: number): void {
    if (from <= 0) return;
    this.buf.copyWithin(0, from, this.len);
    this.len -= from;
    this.scanPos = Math.max(0, this.scanPos - from);
    if (this.nalStart >= 0) this.nalStart -= from;
    // A buffer that grew for one huge unit shrinks back once it is nearly empty.
    if (this.buf.length > 1024 * 1024 && this.len < 256 * 1024) this.buf = this.buf.slice(0, 256 * 1024);
  }

  /**
   * Ends the access unit as soon as the first two bytes of a NAL unit that starts a new one
   * are in, rather than when that NAL unit is complete: a live picture then leaves as soon
   * as the next one begins to arrive.
   */
  private peekHeader(): void {
    if (this.headerSeen || this.nalStart < 0 || this.len - this.nalStart < 2) return;
    this.headerSeen = true;
    this.endAuBefore(this.nalStart, this.len);
  }

  private endAuBefore(start: number, end: number): void {
    const header = this.buf[start]!;
    const type = header & 0x1f;
    if (!validHeader(header)) return;
    const firstMbZero = type >= 1 && type <= 5 && end - start > 1 && (this.buf[start + 1]! & 0x80) !== 0;
    if (this.auHasSlice && (STARTS_AU.has(type) || firstMbZero)) this.finishAu();
  }

  private completeNal(start: number, end: number): void {
    let e = end;
    while (e > start && this.buf[e - 1] === 0) e -= 1; // trailing_zero_8bits belong to the next start code
    if (e === start) return;
    const header = this.buf[start]!;
    const type = header & 0x1f;
    if (!validHeader(header)) {
      // forbidden_zero_bit set, or an unspecified type: not H.264, most likely noise on the line.
      this.counters.garbageBytes += e - start + 3;
      return;
    }
    this.counters.nalUnits += 1;
    const isSlice = type >= 1 && type <= 5;
    if (!this.headerSeen) this.endAuBefore(start, e);
    const nal = this.buf.slice(start, e);
    this.au.push(nal);
    this.auBytes += nal.length + 4;
    if (isSlice) this.auHasSlice = true;
    if (type === NAL_IDR) this.auKey = true;
    if (type === NAL_SPS) this.auSps = nal;
    if (this.auBytes > this.maxAuBytes) {
      this.counters.oversizeDrops += 1;
      this.counters.garbageBytes += this.auBytes;
      this.dropAu();
    }
  }

  private finishAu(): void {
    if (this.au.length === 0) return;
    if (!this.auHasSlice) {
      // Parameter sets or SEI with no picture after them (the stream broke off): nothing to decode.
      this.counters.garbageBytes += this.auBytes;
      this.dropAu();
      return;
    }
    const data = new Uint8Array(this.auBytes);
    let off = 0;
    for (const nal of this.au) {
      data.set(START_CODE, off);
      data.set(nal, off + 4);
      off += nal.length + 4;
    }
    this.counters.accessUnits += 1;
    if (this.auKey) this.counters.keyframes += 1;
    this.out.push(this.auSps === undefined ? { data, key: this.auKey } : { data, key: this.auKey, sps: this.auSps });
    this.dropAu();
  }

  private dropAu(): void {
    this.au = [];
    this.auBytes = 0;
    this.auHasSlice = false;
    this.auKey = false;
    this.auSps = undefined;
  }
}

function validHeader(header: number): boolean {
  const type = header & 0x1f;
  return (header & 0x80) === 0 && type !== 0 && type < 24;
}

/** The WebCodecs codec string of an SPS NAL unit (header byte first): `avc1.PPCCLL`. */
export function codecStringFromSps(sps: Uint8Array): string {
  if (sps.length < 4 || (sps[0]! & 0x1f) !== NAL_SPS) throw new RangeError(`not an SPS NAL unit (${sps.length} bytes, type ${(sps[0] ?? 0) & 0x1f})`);
  const hex = (b: number): string => b.toString(16).padStart(2, '0');
  return `avc1.${hex(sps[1]!)}${hex(sps[2]!)}${hex(sps[3]!)}`;
}
