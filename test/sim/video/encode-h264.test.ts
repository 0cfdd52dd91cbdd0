import { describe, expect, it } from 'vitest';
import { AnnexBParser } from '../../../devices/camera/annexb.js';
import { H264Decoder } from '../../../devices/camera/decoder.js';
import type { RawFrame } from '../../../runtime/pipeline/frame.js';
import { encodeH264, H264Writer } from '../../../sim/video/encode-h264.js';
import { patternIndex, testPattern } from '../../../sim/video/test-pattern.js';

async function decodeAll(stream: Uint8Array): Promise<{ frames: RawFrame[]; keys: number[] }> {
  const frames: RawFrame[] = [];
  const decoder = new H264Decoder({ onFrame: (f) => frames.push(f) });
  const parser = new AnnexBParser();
  const aus = [...parser.push(stream), ...parser.end()];
  const keys: number[] = [];
  for (const [i, au] of aus.entries()) {
    if (au.key) keys.push(i);
    await decoder.waitForSpace();
    expect(decoder.decode(au, i * 33_333)).toBe(true);
  }
  await decoder.idle();
  decoder.close();
  return { frames, keys };
}

describe('H264Writer', () => {
  it('encodes pictures that decode back to the same number of frames, size and content', async () => {
    const stream = await encodeH264({ width: 320, height: 240, framerate: 10, frames: 25, picture: (i) => testPattern(320, 240, i) });
    const { frames, keys } = await decodeAll(stream);
    expect(frames).toHaveLength(25);
    expect(keys).toEqual([0, 10, 20]); // a keyframe every `framerate` frames
    for (const [i, f] of frames.entries()) {
      expect([f.format, f.width, f.height, f.data.length]).toEqual(['I420', 320, 240, 320 * 240 * 1.5]);
      expect(patternIndex(f)).toBe(i);
      expect(f.timestampUs).toBe(i * 33_333);
    }
  });

  it('forces keyframes, takes separate planes and streams chunks as they come', async () => {
    const chunks: { bytes: Uint8Array; key: boolean }[] = [];
    const writer = new H264Writer({ width: 64, height: 48, framerate: 30, onChunk: (bytes, key) => chunks.push({ bytes, key }) });
    for (let i = 0; i < 6; i += 1) {
      const p = testPattern(64, 48, i);
      await writer.write({ y: p.subarray(0, 3072), u: p.subarray(3072, 3840), v: p.subarray(3840) }, { keyFrame: i === 4 });
    }
    expect(await writer.end()).toHaveLength(0);
    expect(chunks.map((c) => c.key)).toEqual([true, false, false, false, true, false]);
    expect(writer.keyframes).toEqual([0, 4]);
  });

  it('refuses a picture of the wrong size (the native side would read past it)', async () => {
    const writer = new H264Writer({ width: 64, height: 48 });
    await expect(writer.write(new Uint8Array(100))).rejects.toThrow(/4608 bytes, got 100/);
    await writer.end();
    expect(() => new H264Writer({ width: 63, height: 48 })).toThrow(/even/);
  });
});
