/**
 * A reference RTP packetizer for H.264 (RFC 6184, non-interleaved mode), written from the
 * RFC for the depacketizer's tests: NAL units that fit go alone or, with `aggregate`, several
 * in one STAP-A; larger ones go in FU-A fragments. Every packet of a picture carries its
 * timestamp, the last one the marker bit (unless `marker` is false).
 */

export interface PacketizeOptions {
  /** Largest RTP payload, bytes. */
  readonly mtu: number;
  readonly aggregate: boolean;
  readonly marker: boolean;
  readonly firstSequence: number;
  readonly ssrc: number;
  readonly payloadType: number;
  /** RTP timestamp of picture i. */
  readonly timestampOf: (i: number) => number;
}

export interface Packetized {
  readonly packets: Uint8Array[];
  /** For each picture, the indices of its first and last packet. */
  readonly spans: { first: number; last: number }[];
}

export function packetize(pictures: readonly (readonly Uint8Array[])[], o: PacketizeOptions): Packetized {
  const packets: Uint8Array[] = [];
  const spans: { first: number; last: number }[] = [];
  pictures.forEach((nals, p) => {
    const payloads: Uint8Array[] = [];
    let i = 0;
    while (i < nals.length) {
      const nal = nals[i]!;
      if (o.aggregate) {
        // As many NAL units as fit in one STAP-A (at least two, or it is not worth one).
        let size = 1;
        let j = i;
        while (j < nals.length && size + 2 + nals[j]!.length <= o.mtu) size += 2 + nals[j++]!.length;
        if (j - i >= 2) {
          payloads.push(stapA(nals.slice(i, j)));
          i = j;
          continue;
        }
      }
      if (nal.length <= o.mtu) payloads.push(nal);
      else payloads.push(...fuA(nal, o.mtu));
      i += 1;
    }
    const first = packets.length;
    payloads.forEach((payload, k) => {
      const seq = (o.firstSequence + packets.length) & 0xffff;
      packets.push(rtpPacket(payload, { marker: o.marker && k === payloads.length - 1, seq, ts: o.timestampOf(p), ssrc: o.ssrc, pt: o.payloadType }));
    });
    spans.push({ first, last: packets.length - 1 });
  });
  return { packets, spans };
}

function stapA(nals: readonly Uint8Array[]): Uint8Array {
  const nri = Math.max(...nals.map((n) => n[0]! & 0x60));
  const out = new Uint8Array(1 + nals.reduce((n, nal) => n + 2 + nal.length, 0));
  out[0] = nri | 24;
  let off = 1;
  for (const nal of nals) {
    out[off] = nal.length >> 8;
    out[off + 1] = nal.length & 0xff;
    out.set(nal, off + 2);
    off += 2 + nal.length;
  }
  return out;
}

function fuA(nal: Uint8Array, mtu: number): Uint8Array[] {
  const header = nal[0]!;
  const body = nal.subarray(1);
  const step = mtu - 2;
  const out: Uint8Array[] = [];
  for (let off = 0; off < body.length; off += step) {
    const part = body.subarray(off, off + step);
    const start = off === 0;
    const end = off + step >= body.length;
    const p = new Uint8Array(2 + part.length);
    p[0] = (header & 0xe0) | 28;
    p[1] = (start ? 0x80 : 0) | (end ? 0x40 : 0) | (header & 0x1f);
    p.set(part, 2);
    out.push(p);
  }
  return out;
}

export function rtpPacket(payload: Uint8Array, h: { marker: boolean; seq: number; ts: number; ssrc: number; pt: number }): Uint8Array {
  const out = new Uint8Array(12 + payload.length);
  const v = new DataView(out.buffer);
  out[0] = 0x80;
  out[1] = (h.marker ? 0x80 : 0) | h.pt;
  v.setUint16(2, h.seq);
  v.setUint32(4, h.ts >>> 0);
  v.setUint32(8, h.ssrc >>> 0);
  out.set(payload, 12);
  return out;
}
