import { RtspError } from './errors.js';

/**
 * Splits the bytes of an RTSP connection into what RFC 2326 puts on it: responses to our
 * requests, requests from the server, and interleaved frames (10.12: `$`, a channel byte,
 * a 16-bit length, then an RTP or RTCP packet). Bytes arrive cut anywhere.
 *
 * Bounded: a message head may be 16 KiB and a body 64 KiB (an SDP is a few hundred bytes);
 * an interleaved frame is at most 64 KiB by its length field. So the buffer never holds
 * more than about 80 KiB plus one socket read. Anything that is none of the three (a
 * camera that sends garbage, or a stream out of step) is a protocol error: the caller
 * drops the connection and reconnects, which is the only reliable way back into step.
 */

export type Headers = ReadonlyMap<string, readonly string[]>;

export type RtspMessage =
  | { readonly kind: 'response'; readonly status: number; readonly reason: string; readonly headers: Headers; readonly body: Uint8Array }
  | { readonly kind: 'request'; readonly method: string; readonly url: string; readonly headers: Headers; readonly body: Uint8Array }
  | { readonly kind: 'interleaved'; readonly channel: number; readonly payload: Uint8Array };

export const MAX_HEAD_BYTES = 16 * 1024;
export const MAX_BODY_BYTES = 64 * 1024;

/** The first value of a header (names are case-insensitive), or undefined. */
export function header(headers: Headers, name: string): string | undefined {
  return headers.get(name.toLowerCase())?.[0];
}

const EMPTY = new Uint8Array(0);
const DOLLAR = 0x24;
const CR = 0x0d;
const LF = 0x0a;

export class RtspReader {
  private pending: Uint8Array = EMPTY;

  /** Feeds bytes; returns the complete messages and frames they finished, in order. Throws RtspError on bytes that are not RTSP. */
  push(chunk: Uint8Array): RtspMessage[] {
    let buf = this.pending.length === 0 ? chunk : concat(this.pending, chunk);
    const out: RtspMessage[] = [];
    let off = 0;
    for (;;) {
      // Stray line ends between messages are tolerated (some servers end a body with one too many).
      while (off < buf.length && (buf[off] === CR || buf[off] === LF)) off += 1;
      if (off >= buf.length) break;
      if (buf[off] === DOLLAR) {
        if (buf.length - off < 4) break;
        const length = (buf[off + 2]! << 8) | buf[off + 3]!;
        if (buf.length - off < 4 + length) break;
        out.push({ kind: 'interleaved', channel: buf[off + 1]!, payload: buf.subarray(off + 4, off + 4 + length) });
        off += 4 + length;
        continue;
      }
      const used = this.parseMessage(buf, off, out);
      if (used === 0) break;
      off += used;
    }
    buf = buf.subarray(off);
    // Keep a copy only of the unfinished tail, so a large socket read is not kept alive by it.
    this.pending = buf.length === 0 ? EMPTY : buf.slice();
    return out;
  }

  /** Parses one response or request at `off`; returns the bytes it took, or 0 when it is not complete yet. */
  private parseMessage(buf: Uint8Array, off: number, out: RtspMessage[]): number {
    const first = buf[off]!;
    if (first < 0x41 || first > 0x5a) throw new RtspError('E_RTSP_PROTOCOL', `expected an RTSP message or an interleaved frame, got byte 0x${first.toString(16).padStart(2, '0')}`);
    const end = indexOfHeadEnd(buf, off, Math.min(buf.length, off + MAX_HEAD_BYTES + 4));
    if (end < 0) {
      if (buf.length - off > MAX_HEAD_BYTES) throw new RtspError('E_RTSP_PROTOCOL', `an RTSP message head longer than ${MAX_HEAD_BYTES} bytes`);
      return 0;
    }
    const text = Buffer.from(buf.buffer, buf.byteOffset + off, end - off).toString('latin1');
    const lines = text.split(/\r?\n/);
    const startLine = lines[0]!;
    const headers = parseHeaders(lines.slice(1));
    const lengthText = header(headers, 'content-length');
    const length = lengthText === undefined ? 0 : Number(lengthText);
    if (!Number.isInteger(length) || length < 0) throw new RtspError('E_RTSP_PROTOCOL', `a Content-Length that is not a number: "${lengthText}"`);
    if (length > MAX_BODY_BYTES) throw new RtspError('E_RTSP_PROTOCOL', `a body of ${length} bytes (at most ${MAX_BODY_BYTES} are accepted)`);
    const headEnd = end + (buf[end] === CR ? 4 : 2);
    if (buf.length < headEnd + length) return 0;
    const body = buf.slice(headEnd, headEnd + length);
    const status = /^RTSP\/1\.\d (\d{3})(?: (.*))?$/.exec(startLine);
    if (status !== null) {
      out.push({ kind: 'response', status: Number(status[1]), reason: status[2] ?? '', headers, body });
    } else {
      const request = /^([A-Z_]+) (\S+) RTSP\/1\.\d$/.exec(startLine);
      if (request === null) throw new RtspError('E_RTSP_PROTOCOL', `not an RTSP status or request line: "${startLine.slice(0, 80)}"`);
      out.push({ kind: 'request', method: request[1]!, url: request[2]!, headers, body });
    }
    return headEnd + length - off;
  }
}

/** Where the blank line after the head begins (the CR of CRLFCRLF, or the first LF of LFLF); -1 if not within [off, limit). */
function indexOfHeadEnd(buf: Uint8Array, off: number, limit: number): number {
  for (let i = off; i < limit - 1; i += 1) {
    if (buf[i] !== LF && buf[i] !== CR) continue;
    if (buf[i] === CR && buf[i + 1] === LF && buf[i + 2] === CR && buf[i + 3] === LF) return i;
    if (buf[i] === LF && buf[i + 1] === LF) return i;
  }
  return -1;
}

function parseHeaders(lines: readonly string[]): Map<string, string[]> {
  const headers = new Map<string, string[]>();
  let last: { values: string[] } | undefined;
  for (const line of lines) {
    if (line === '') continue;
    if ((line.startsWith(' ') || line.startsWith('\t')) && last !== undefined) {
      // Obsolete line folding (RFC 2616 2.2): the line continues the previous header's value.
      last.values[last.values.length - 1] += ` ${line.trim()}`;
      continue;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) throw new RtspError('E_RTSP_PROTOCOL', `a header line without a name: "${line.slice(0, 80)}"`);
    const name = line.slice(0, colon).trim().toLowerCase();
    const values = headers.get(name) ?? [];
    values.push(line.slice(colon + 1).trim());
    headers.set(name, values);
    last = { values };
  }
  return headers;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}
