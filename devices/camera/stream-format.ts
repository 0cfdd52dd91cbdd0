import type { AnnexBCounters } from './annexb.js';

/**
 * Telling an H.264 stream from something else. A camera pointed at the wrong file or port
 * (a PNG, an MP4 given to a raw input, an H.265 camera) would otherwise be read for ever as
 * "garbage" with no frame and a healthy status: the source judges the first bytes of each
 * file or connection and fails with `E_CAMERA_FORMAT`, naming what the bytes look like.
 */

/** A camera input that is not H.264 (or not a container holding H.264). */
export class CameraFormatError extends Error {
  readonly code = 'E_CAMERA_FORMAT';
}

/** Bytes of a file or connection judged before a verdict on garbage and start codes. */
export const FORMAT_WINDOW_BYTES = 1024 * 1024;
/**
 * Bytes without an SPS after which an Annex B stream is refused. Larger than the window: a
 * live stream joined mid-GOP sees its first SPS only at the next keyframe (a 4 s GOP at
 * 8 Mbit/s is 4 MB).
 */
export const SPS_WINDOW_BYTES = 16 * 1024 * 1024;
/** Share of garbage above which an Annex B stream is refused. */
const MAX_GARBAGE_SHARE = 0.5;
/** Bytes kept from the start of a file or connection to name what it is. */
const HEAD_BYTES = 4096;

const ascii = (b: Uint8Array, at: number, text: string): boolean => [...text].every((c, i) => b[at + i] === c.charCodeAt(0));

/** ISO BMFF (MP4, MOV, fragmented MP4): a `ftyp` (or a segment's `styp`) box first. */
export function isMp4(head: Uint8Array): boolean {
  return head.length >= 8 && (ascii(head, 4, 'ftyp') || ascii(head, 4, 'styp'));
}

/** What the first bytes of a stream look like when they are not H.264 Annex B, by magic numbers; undefined if nothing known. */
export function describeMagic(head: Uint8Array): string | undefined {
  if (isMp4(head) || ascii(head, 4, 'moov') || ascii(head, 4, 'mdat') || ascii(head, 4, 'moof')) return 'an MP4/QuickTime file';
  if (head[0] === 0x1a && head[1] === 0x45 && head[2] === 0xdf && head[3] === 0xa3) return 'a Matroska/WebM file';
  if (head[0] === 0x47 && (head.length < 189 || head[188] === 0x47)) return 'an MPEG-TS stream';
  if (head[0] === 0xff && head[1] === 0xd8 && head[2] === 0xff) return 'a JPEG image';
  if (ascii(head, 0, '\x89PNG')) return 'a PNG image';
  if (ascii(head, 0, 'GIF8')) return 'a GIF image';
  if (ascii(head, 0, 'RIFF')) return ascii(head, 8, 'AVI ') ? 'an AVI file' : 'a RIFF (WAV/AVI) file';
  if (head[0] === 0 && head[1] === 0 && head[2] === 1 && head[3] === 0xba) return 'an MPEG program stream';
  if (head[0] === 0x1f && head[1] === 0x8b) return 'a gzip file';
  if (ascii(head, 0, 'PK\x03\x04')) return 'a ZIP archive';
  if (ascii(head, 0, 'RTSP/') || ascii(head, 0, 'HTTP/')) return `a ${ascii(head, 0, 'RTSP/') ? 'RTSP' : 'HTTP'} server's reply, not a raw stream`;
  if (looksLikeHevc(head)) return 'an H.265 (HEVC) stream';
  if (head.length >= 16 && head.every((b) => b === 9 || b === 10 || b === 13 || (b >= 32 && b < 127))) return 'text';
  return undefined;
}

/** An H.265 VPS or SPS NAL unit header (types 32, 33 with layer 0, temporal id 1) behind a start code. */
function looksLikeHevc(head: Uint8Array): boolean {
  for (let i = 0; i + 4 < head.length; i += 1) {
    if (head[i] === 0 && head[i + 1] === 0 && head[i + 2] === 1 && (head[i + 3] === 0x40 || head[i + 3] === 0x42) && head[i + 4] === 0x01) return true;
  }
  return false;
}

export type FormatVerdict = 'pending' | 'ok' | CameraFormatError;

/**
 * Judges one file or connection of an Annex B stream from the parser's counters: refused
 * when more than half of its first MiB is garbage or it has no start code at all, or when
 * no SPS came in its first 16 MiB (or before a file ended); accepted at its first SPS
 * while at most half of it was garbage. `begin` at each new file or
 * connection; `observe` after each push; `end` when a file ended.
 */
export class AnnexBFormatCheck {
  private start = { bytes: 0, garbage: 0, nal: 0 };
  private head: Uint8Array = new Uint8Array(0);
  private sawSps = false;
  /** Raw bytes came since `begin` (an MP4's units are not judged here). */
  private observed = false;
  private verdict: FormatVerdict = 'pending';

  constructor(private readonly where: string) {}

  begin(c: AnnexBCounters): void {
    this.start = { bytes: c.bytes, garbage: c.garbageBytes, nal: c.nalUnits };
    this.head = new Uint8Array(0);
    this.sawSps = false;
    this.observed = false;
    this.verdict = 'pending';
  }

  /** Notes the bytes just pushed (their start names the format) and whether an SPS came out. */
  observe(c: AnnexBCounters, bytes: Uint8Array, sawSps: boolean): FormatVerdict {
    if (this.verdict !== 'pending') return this.verdict;
    this.observed = true;
    if (this.head.length < HEAD_BYTES) this.head = concat(this.head, bytes.subarray(0, HEAD_BYTES - this.head.length));
    this.sawSps ||= sawSps;
    const read = c.bytes - this.start.bytes;
    // An SPS among mostly valid NAL units is H.264: a live stream need not fill the window first.
    if (read >= FORMAT_WINDOW_BYTES || (this.sawSps && c.garbageBytes - this.start.garbage <= read * MAX_GARBAGE_SHARE)) this.verdict = this.judge(c, false);
    return this.verdict;
  }

  /**
   * The file ended, or (`whole` false) a connection broke off: what was read is all there is.
   * A broken connection is judged on its garbage only: it may have ended before a keyframe.
   */
  end(c: AnnexBCounters, whole = true): FormatVerdict {
    if (this.verdict === 'pending' && this.observed) this.verdict = this.judge(c, whole);
    return this.verdict;
  }

  private judge(c: AnnexBCounters, ended: boolean): FormatVerdict {
    const read = c.bytes - this.start.bytes;
    const garbage = c.garbageBytes - this.start.garbage;
    const n = Math.min(read, FORMAT_WINDOW_BYTES);
    const what = describeMagic(this.head);
    const looks = what === undefined ? '' : `: it looks like ${what}`;
    if (c.nalUnits === this.start.nal) return new CameraFormatError(`${this.where}: not an H.264 Annex B stream, no H.264 start codes in the first ${n} bytes${looks}`);
    // Garbage is counted as the parser goes, so the share is over what was read so far.
    if (garbage > read * MAX_GARBAGE_SHARE) return new CameraFormatError(`${this.where}: not an H.264 Annex B stream, ${Math.round((100 * garbage) / read)}% of the first ${read} bytes are not H.264${looks}`);
    if (this.sawSps) return 'ok';
    if (ended || read >= SPS_WINDOW_BYTES) return new CameraFormatError(`${this.where}: no H.264 SPS (sequence parameter set) in the first ${read} bytes, so nothing can be decoded${looks === '' ? ' (an H.265 or other codec?)' : looks}`);
    return 'pending';
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}
