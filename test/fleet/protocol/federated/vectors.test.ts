import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ChunkReassembler, decodeChunk, decodeUpdate, encodeUpdate, sha256, splitUpdate, type UpdateMessage } from '../../../../fleet/protocol/federated/index.js';

interface PlainMessage extends Omit<UpdateMessage, 'tensors'> {
  tensors: { name: string; shape: number[]; scale: number; q: number[]; indices?: number[] }[];
}
interface Vectors {
  updates: { name: string; hex: string; message: PlainMessage }[];
  decodeOnly: { name: string; hex: string; message: PlainMessage }[];
  chunked: { name: string; updateId: string; maxChunkBytes: number; updateHex: string; sha256: string; chunks: string[] }[];
}

const vectors = JSON.parse(readFileSync(new URL('../../../../fleet/protocol/vectors/federated.json', import.meta.url), 'utf8')) as Vectors;
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const typed = (m: PlainMessage): UpdateMessage => ({ ...m, tensors: m.tensors.map((t) => ({ name: t.name, shape: t.shape, scale: t.scale, q: Int8Array.from(t.q), ...(t.indices === undefined ? {} : { indices: Uint32Array.from(t.indices) }) })) });

describe('federated update test vectors', () => {
  it('cover dense, varint-sparse and bitmap-sparse tensors and a chunked update', () => {
    const hexes = vectors.updates.map((v) => v.hex).join();
    expect(vectors.updates.some((v) => v.message.tensors.some((t) => t.indices === undefined))).toBe(true);
    expect(hexes).toContain('626976'); // key "iv"
    expect(hexes).toContain('626962'); // key "ib"
    expect(vectors.chunked[0]?.chunks.length).toBeGreaterThan(1);
  });

  for (const v of vectors.updates) {
    it(`update "${v.name}" encodes and decodes byte for byte`, () => {
      expect(hex(encodeUpdate(typed(v.message)))).toBe(v.hex);
      expect(decodeUpdate(Buffer.from(v.hex, 'hex'))).toEqual(typed(v.message));
    });
  }

  for (const v of vectors.decodeOnly) {
    it(`update "${v.name}" decodes to the same message`, () => {
      expect(decodeUpdate(Buffer.from(v.hex, 'hex'))).toEqual(typed(v.message));
    });
  }

  for (const v of vectors.chunked) {
    it(`chunked "${v.name}" splits byte for byte and reassembles from the last chunk first`, () => {
      const update = Buffer.from(v.updateHex, 'hex');
      expect(hex(sha256(update))).toBe(v.sha256);
      expect(splitUpdate(update, { updateId: v.updateId, maxChunkBytes: v.maxChunkBytes }).map(hex)).toEqual(v.chunks);
      v.chunks.forEach((c, i) => expect(decodeChunk(Buffer.from(c, 'hex')).index).toBe(i));
      const r = new ChunkReassembler({ now: () => 0 });
      const results = [...v.chunks].reverse().map((c) => r.accept('gw-7', Buffer.from(c, 'hex')));
      const last = results.at(-1);
      expect(last?.status === 'complete' && hex(last.bytes)).toBe(v.updateHex);
      expect(decodeUpdate(update).round).toBe(5);
    });
  }
});
