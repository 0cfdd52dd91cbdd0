/** One RTP packet (RFC 3550 5.1): the fields a receiver of one H.264 stream uses. */
export interface RtpPacket {
  readonly marker: boolean;
  readonly payloadType: number;
  readonly sequence: number;
  readonly timestamp: number;
  readonly ssrc: number;
  /** The payload, CSRCs, header extension and padding removed (a view into the packet). */
  readonly payload: Uint8Array;
}

/** Parses an RTP packet; returns a reason string for bytes that are not one. */
export function parseRtpPacket(b: Uint8Array): RtpPacket | string {
  if (b.length < 12) return `${b.length} bytes, shorter than an RTP header`;
  if (b[0]! >> 6 !== 2) return `RTP version ${b[0]! >> 6}`;
  let start = 12 + (b[0]! & 0x0f) * 4;
  if ((b[0]! & 0x10) !== 0) {
    if (b.length < start + 4) return 'a header extension past the end';
    start += 4 + ((b[start + 2]! << 8) | b[start + 3]!) * 4;
  }
  let end = b.length;
  if ((b[0]! & 0x20) !== 0) end -= b[b.length - 1]!;
  if (start > end) return 'header and padding longer than the packet';
  return {
    marker: (b[1]! & 0x80) !== 0,
    payloadType: b[1]! & 0x7f,
    sequence: (b[2]! << 8) | b[3]!,
    timestamp: ((b[4]! << 24) | (b[5]! << 16) | (b[6]! << 8) | b[7]!) >>> 0,
    ssrc: ((b[8]! << 24) | (b[9]! << 16) | (b[10]! << 8) | b[11]!) >>> 0,
    payload: b.subarray(start, end),
  };
}
