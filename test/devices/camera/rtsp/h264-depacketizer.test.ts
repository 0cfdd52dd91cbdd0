import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { H264Depacketizer, type DepacketizedUnit } from '../../../../devices/camera/rtsp/h264-depacketizer.js';
import { parseRtpPacket } from '../../../../devices/camera/rtsp/rtp-packet.js';
import { RtpSequence } from '../../../../devices/camera/rtsp/rtp-sequence.js';
import { packetize, type PacketizeOptions } from './rtp-h264-packetizer.js';

const TS_STEP = 3000; // 90 kHz at 30 fps

/** A NAL unit of a type with a random NRI and body. */
const nal = (type: number, maxBody: number): fc.Arbitrary<Uint8Array> =>
  fc.tuple(fc.integer({ min: 0, max: 3 }), fc.uint8Array({ minLength: 0, maxLength: maxBody })).map(([nri, body]) => Uint8Array.of((nri << 5) | type, ...body));

/** A slice NAL unit: the first of a picture starts at macroblock 0 (first_mb_in_slice = 0: its first bit is 1), the others do not. */
const slice = (type: number, first: boolean, maxBody: number): fc.Arbitrary<Uint8Array> =>
  fc.tuple(fc.integer({ min: 1, max: 3 }), fc.uint8Array({ minLength: 1, maxLength: maxBody })).map(([nri, body]) => Uint8Array.of((nri << 5) | type, first ? body[0]! | 0x80 : body[0]! & 0x7f, ...body.subarray(1)));

/** One picture: an IDR picture with its SPS and PPS, or a P picture; maybe an SEI first; one to three slices. */
const picture = (key: boolean, maxBody: number): fc.Arbitrary<Uint8Array[]> =>
  fc
    .tuple(fc.boolean(), nal(6, 40), slice(key ? 5 : 1, true, maxBody), fc.array(slice(key ? 5 : 1, false, maxBody), { maxLength: 2 }), nal(7, 30), nal(8, 8))
    .map(([sei, s, first, more, sps, pps]) => [...(key ? [sps, pps] : []), ...(sei ? [s] : []), first, ...more]);

/** A stream: an IDR picture first, then IDR or P pictures. */
const stream = (maxBody = 3000): fc.Arbitrary<Uint8Array[][]> =>
  fc.array(fc.boolean(), { minLength: 0, maxLength: 20 }).chain((keys) => fc.tuple(picture(true, maxBody), ...keys.map((k) => picture(k, maxBody))).map((p) => p));

const options = fc.record({
  mtu: fc.integer({ min: 20, max: 1500 }),
  aggregate: fc.boolean(),
  marker: fc.constant(true),
  // Near the top of the 16-bit range half the time: the numbers wrap inside the stream.
  firstSequence: fc.oneof(fc.integer({ min: 0, max: 0xffff }), fc.integer({ min: 0xfff0, max: 0xffff })),
  ssrc: fc.integer({ min: 0, max: 0xffffffff }),
  payloadType: fc.constant(96),
  timestampOf: fc.integer({ min: 0, max: 0xffffffff }).map((base) => (i: number) => (base + i * TS_STEP) >>> 0),
});

/** What the camera input does with each packet: parse, count the sequence, depacketize. */
function receive(packets: readonly Uint8Array[], d = new H264Depacketizer()): { units: DepacketizedUnit[]; seq: RtpSequence; d: H264Depacketizer } {
  const seq = new RtpSequence();
  const units: DepacketizedUnit[] = [];
  for (const bytes of packets) {
    const p = parseRtpPacket(bytes);
    if (typeof p === 'string') throw new Error(p);
    const v = seq.next(p.sequence, p.ssrc);
    if (v.kind === 'drop') continue;
    units.push(...d.push(p, v.kind === 'restart' || v.lost > 0));
  }
  return { units, seq, d };
}

describe('H.264 depacketizer (RFC 6184)', () => {
  it('gives back every picture exactly, whatever the packet size and aggregation', () => {
    fc.assert(
      fc.property(stream(), options, (pictures, o: PacketizeOptions) => {
        const { units, seq, d } = receive(packetize(pictures, o).packets);
        expect(units.map((u) => u.nals)).toEqual(pictures);
        expect(units.map((u) => u.timestamp)).toEqual(pictures.map((_, i) => o.timestampOf(i)));
        expect(units.map((u) => u.key)).toEqual(pictures.map((p) => p.some((n) => (n[0]! & 0x1f) === 5)));
        expect(seq.lost).toBe(0);
        expect(d.counters).toMatchObject({ units: pictures.length, damaged: 0, skippedToKey: 0, oversize: 0 });
      }),
      { numRuns: 300 },
    );
  });

  it('ends a picture at the timestamp change when the sender sets no marker bit', () => {
    fc.assert(
      fc.property(stream(500), options, (pictures, o) => {
        const { units } = receive(packetize(pictures, { ...o, marker: false }).packets);
        // The last picture is complete only when a next one begins.
        expect(units.map((u) => u.nals)).toEqual(pictures.slice(0, -1));
      }),
      { numRuns: 100 },
    );
  });

  it('under packet loss hands on only intact pictures, from an IDR picture on, and counts every lost packet', () => {
    fc.assert(
      fc.property(stream(2000), options, fc.array(fc.integer({ min: 0, max: 11 }).map((n) => n > 0), { minLength: 1, maxLength: 400 }), (pictures, o, keepBits) => {
        const { packets, spans } = packetize(pictures, o);
        // The first packet arrives: a session starts at a picture's start (a start mid-picture is the next test's).
        const kept = packets.map((_, i) => i === 0 || keepBits[i % keepBits.length]!);
        const { units, seq } = receive(packets.filter((_, i) => kept[i]));

        // Every picture handed on is one of the originals, byte for byte.
        const index = (u: DepacketizedUnit): number => ((u.timestamp - o.timestampOf(0)) >>> 0) / TS_STEP;
        for (const u of units) expect(u.nals).toEqual(pictures[index(u)]);

        // Exactly these: a picture j goes out when, for some IDR picture k <= j, every packet
        // from k's first to j's last arrived, and the packet before k's first did too (or
        // k's first is the first packet: there was no gap to see before it).
        const firstKept = 0;
        const isKey = (p: number): boolean => pictures[p]!.some((n) => (n[0]! & 0x1f) === 5);
        const expected: number[] = [];
        for (let j = 0; j < pictures.length; j += 1) {
          for (let k = j; k >= 0; k -= 1) {
            const { first } = spans[k]!;
            const { last } = spans[j]!;
            if (!kept.slice(first, last + 1).every(Boolean)) break;
            if (isKey(k) && (first === firstKept || kept[first - 1] === true)) {
              expected.push(j);
              break;
            }
          }
        }
        expect(units.map(index)).toEqual(expected);

        // Lost = the packets missing between the first and the last that arrived (16-bit wrap included).
        const lastKept = kept.lastIndexOf(true);
        const missing = kept.slice(firstKept, lastKept + 1).filter((k) => !k).length;
        expect(seq.lost).toBe(missing);
      }),
      { numRuns: 500 },
    );
  });

  it('drops the picture a session joins in the middle of: its first slice does not start at macroblock 0', () => {
    const d = new H264Depacketizer();
    const pkt = (payload: number[], ts: number) => ({ payload: Uint8Array.from(payload), timestamp: ts, marker: true });
    // Joined at the second slice of an IDR picture (a complete NAL unit: no gap to see), then a P picture, then a whole IDR picture.
    expect(d.push(pkt([0x65, 0x12, 0x34], 0))).toEqual([]);
    expect(d.push(pkt([0x41, 0x80, 0x01], 3000))).toEqual([]);
    expect(d.push(pkt([0x65, 0x88, 0x01], 6000))).toEqual([{ nals: [Uint8Array.of(0x65, 0x88, 0x01)], timestamp: 6000, key: true }]);
    expect(d.counters).toMatchObject({ damaged: 1, skippedToKey: 1, units: 1 });
  });

  it('puts the SDP parameter sets in front of an IDR picture that has none, and carries in-band ones sent apart', () => {
    const sps = Uint8Array.of(0x67, 0x42, 0xc0, 0x0d);
    const pps = Uint8Array.of(0x68, 0xce, 0x3c, 0x80);
    const idr = Uint8Array.of(0x65, 0x81, 2, 3);
    const p = Uint8Array.of(0x41, 0x84, 5);
    const d = new H264Depacketizer({ sps, pps: [pps] });
    const pkt = (payload: Uint8Array, ts: number, marker = true) => ({ payload, timestamp: ts, marker });
    expect(d.push(pkt(p, 0))).toEqual([]); // no IDR yet: skipped
    expect(d.push(pkt(idr, 3000))).toEqual([{ nals: [sps, pps, idr], timestamp: 3000, key: true }]);
    expect(d.push(pkt(p, 6000))).toEqual([{ nals: [p], timestamp: 6000, key: false }]);
    // New parameter sets in packets of their own timestamp (some cameras): learned, and carried into the picture after them.
    const sps2 = Uint8Array.of(0x67, 0x4d, 0x00, 0x1f);
    const pps2 = Uint8Array.of(0x68, 0xee, 0x3c, 0x80);
    expect(d.push(pkt(sps2, 9000, false))).toEqual([]);
    expect(d.push(pkt(pps2, 9000))).toEqual([]);
    expect(d.push(pkt(idr, 12_000))).toEqual([{ nals: [sps2, pps2, idr], timestamp: 12_000, key: true }]);
    // A later IDR picture without them gets the latest ones.
    expect(d.push(pkt(idr, 15_000))).toEqual([{ nals: [sps2, pps2, idr], timestamp: 15_000, key: true }]);
    expect(d.counters).toMatchObject({ units: 4, skippedToKey: 1, parameterSetsInserted: 2 });
  });

  it('drops a picture over the size bound without keeping it, and resumes at the next IDR picture', () => {
    const d = new H264Depacketizer({ maxUnitBytes: 1000 });
    const sps = Uint8Array.of(0x67, 0x42, 0xc0, 0x0d);
    const pps = Uint8Array.of(0x68, 0xce);
    const small = (type: number): Uint8Array => Uint8Array.of(0x60 | type, ...new Array(100).fill(0x87));
    const { packets } = packetize([[sps, pps, small(5)], [Uint8Array.of(0x41, ...new Array(3000).fill(0x89))], [small(1)], [sps, pps, small(5)]], {
      mtu: 400,
      aggregate: true,
      marker: true,
      firstSequence: 10,
      ssrc: 1,
      payloadType: 96,
      timestampOf: (i) => i * TS_STEP,
    });
    const { units } = receive(packets, d);
    expect(units.map((u) => u.timestamp)).toEqual([0, 3 * TS_STEP]);
    expect(d.counters).toMatchObject({ oversize: 1, skippedToKey: 1, damaged: 0 });
  });

  it('never throws on arbitrary payloads, and whatever it hands on is well-formed NAL units', () => {
    fc.assert(
      fc.property(fc.array(fc.record({ payload: fc.uint8Array({ maxLength: 300 }), marker: fc.boolean(), timestamp: fc.integer({ min: 0, max: 5 }), gap: fc.boolean() }), { maxLength: 200 }), (packets) => {
        const d = new H264Depacketizer({ maxUnitBytes: 2000 });
        for (const p of packets) {
          for (const u of d.push(p, p.gap)) {
            expect(u.nals.some((n) => (n[0]! & 0x1f) >= 1 && (n[0]! & 0x1f) <= 5)).toBe(true);
            for (const n of u.nals) expect(n.length > 0 && (n[0]! & 0x80) === 0 && (n[0]! & 0x1f) >= 1 && (n[0]! & 0x1f) <= 23).toBe(true);
            expect(u.nals.reduce((s, n) => s + n.length + 4, 0)).toBeLessThanOrEqual(2000);
          }
        }
      }),
      { numRuns: 300 },
    );
  });
});
