import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { cobsDecode, cobsEncode } from '../../firmware-bridge/cobs.js';
import { crc32c } from '../../firmware-bridge/crc32c.js';
import { CRC_LENGTH, FrameDecoder, HEADER_LENGTH, encodeFrame, type Frame } from '../../firmware-bridge/frame.js';
import { decodePayload, encodePayload, messageCode, type Message } from '../../firmware-bridge/messages.js';
import { message } from './arbitraries.js';

const frameOf = (m: Message, seq = 0, flags = 1, session = 7): Uint8Array => encodeFrame({ type: messageCode(m.type), flags, session, seq, payload: encodePayload(m) });

function decodeAll(bytes: Uint8Array, chunk = 64): { frames: Frame[]; decoder: FrameDecoder } {
  const decoder = new FrameDecoder();
  const frames: Frame[] = [];
  for (let i = 0; i < bytes.length; i += chunk) decoder.push(bytes.subarray(i, i + chunk), (f) => frames.push(f));
  return { frames, decoder };
}

describe('CRC-32C and COBS', () => {
  it('has the CRC-32C check value', () => {
    expect(crc32c(new TextEncoder().encode('123456789'))).toBe(0xe3069283);
  });

  it('COBS round-trips any bytes and its output has no zero (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2000 }), (bytes) => {
        const enc = cobsEncode(bytes);
        expect(enc.includes(0)).toBe(false);
        expect(cobsDecode(enc)).toEqual(bytes);
      }),
    );
  });
});

describe('frames and messages', () => {
  it('round-trip arbitrary messages through payload and frame encoding (property)', () => {
    fc.assert(
      fc.property(message, fc.integer({ min: 0, max: 0xffff }), (m, seq) => {
        const { frames } = decodeAll(frameOf(m, seq));
        expect(frames).toHaveLength(1);
        const f = frames[0] as Frame;
        expect(f.seq).toBe(seq);
        expect(f.type).toBe(messageCode(m.type));
        expect(decodePayload(f.type, f.payload)).toEqual({ message: m });
      }),
      { numRuns: 1000 },
    );
  });

  it('the decoder never throws on arbitrary bytes, and every frame it emits has a valid CRC (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 4096 }), fc.integer({ min: 1, max: 300 }), (bytes, chunk) => {
        const { frames } = decodeAll(bytes, chunk);
        for (const f of frames) {
          const raw = new Uint8Array(HEADER_LENGTH + f.payload.length);
          raw.set([f.version, f.type, f.flags, f.session, f.seq & 0xff, f.seq >> 8]);
          raw.set(f.payload, HEADER_LENGTH);
          // Re-encoding gives the same CRC the wire carried, so the emitted frame is exactly what was checked.
          const wire = encodeFrame(f);
          expect(crc32c(raw)).toBe(new DataView(cobsDecode(wire.subarray(0, -1))?.buffer ?? new ArrayBuffer(8)).getUint32(HEADER_LENGTH + f.payload.length, true));
          expect(f.payload.length + HEADER_LENGTH + CRC_LENGTH).toBeGreaterThanOrEqual(HEADER_LENGTH + CRC_LENGTH);
          // And decodePayload never throws on what it gets.
          expect(() => decodePayload(f.type, f.payload)).not.toThrow();
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('decodePayload never throws on arbitrary payloads of any type (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 255 }), fc.uint8Array({ maxLength: 1100 }), (type, payload) => {
        const r = decodePayload(type, payload);
        expect('message' in r || 'error' in r).toBe(true);
      }),
      { numRuns: 3000 },
    );
  });

  it('a valid frame after arbitrary garbage is still decoded (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 3000 }), message, fc.integer({ min: 1, max: 200 }), (garbage, m, chunk) => {
        const good = frameOf(m, 42);
        const stream = new Uint8Array(garbage.length + 1 + good.length);
        stream.set(garbage);
        stream[garbage.length] = 0; // a sender starts a frame with a delimiter after an error
        stream.set(good, garbage.length + 1);
        const { frames } = decodeAll(stream, chunk);
        const last = frames[frames.length - 1];
        expect(last?.seq).toBe(42);
        expect(decodePayload(last?.type ?? 0, last?.payload ?? new Uint8Array())).toEqual({ message: m });
      }),
      { numRuns: 1000 },
    );
  });

  it('counts CRC errors and resyncs, and skips a run longer than any frame', () => {
    const m: Message = { type: 'log', level: 'info', text: 'hello' };
    const good = frameOf(m, 1);
    const bad = good.slice();
    bad[3] = bad[3] === 1 ? 2 : 1; // one flipped byte inside the frame
    const long = new Uint8Array(5000).fill(0x55);
    const { frames, decoder } = decodeAll(new Uint8Array([...bad, ...long, 0, ...good]));
    expect(frames).toHaveLength(1);
    expect(decoder.counters.crcErrors + decoder.counters.malformed).toBe(1);
    expect(decoder.counters.oversize).toBe(1);
    expect(decoder.counters.resyncs).toBe(1);
  });
});
