import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { FrameDecoder, encodeFrame, type Frame } from '../../firmware-bridge/frame.js';
import { MessageType, decodePayload, encodePayload, type Message } from '../../firmware-bridge/messages.js';

interface Vector {
  name: string;
  header: { version: number; type: number; flags: number; session: number; seq: number };
  payloadHex: string;
  frameHex: string;
  message: unknown;
}

const file = JSON.parse(readFileSync(new URL('../../firmware-bridge/vectors/messages.json', import.meta.url), 'utf8')) as { vectors: Vector[] };

function revive(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(revive);
  if (value !== null && typeof value === 'object') {
    const o = value as Record<string, unknown>;
    if (typeof o['$bytes'] === 'string') return new Uint8Array(Buffer.from(o['$bytes'], 'hex'));
    return Object.fromEntries(Object.entries(o).map(([k, v]) => [k, revive(v)]));
  }
  return value;
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

describe('firmware-bridge test vectors', () => {
  it('cover every message type', () => {
    expect(new Set(file.vectors.map((v) => v.header.type))).toEqual(new Set(Object.values(MessageType)));
  });

  for (const v of file.vectors) {
    it(`${v.name}: decodes and encodes byte for byte`, () => {
      const message = revive(v.message) as Message;
      expect(hex(encodePayload(message))).toBe(v.payloadHex);
      expect(hex(encodeFrame({ ...v.header, payload: Buffer.from(v.payloadHex, 'hex') }))).toBe(v.frameHex);
      const frames: Frame[] = [];
      new FrameDecoder().push(Buffer.from(v.frameHex, 'hex'), (f) => frames.push(f));
      expect(frames).toHaveLength(1);
      const f = frames[0] as Frame;
      expect({ version: f.version, type: f.type, flags: f.flags, session: f.session, seq: f.seq }).toEqual(v.header);
      expect(hex(f.payload)).toBe(v.payloadHex);
      const decoded = decodePayload(f.type, f.payload);
      expect(decoded).toEqual({ message });
    });
  }
});
