import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AnnexBParser } from '../../../devices/camera/annexb.js';
import { AnnexBFormatCheck, CameraFormatError, describeMagic, FORMAT_WINDOW_BYTES, isMp4 } from '../../../devices/camera/stream-format.js';
import { concat, makeClip } from './clip.js';

const bytes = (...parts: (string | number[])[]): Uint8Array => concat(parts.map((p) => (typeof p === 'string' ? new TextEncoder().encode(p) : new Uint8Array(p))));

/** Feeds `stream` through a parser and a check in 64 KiB pieces, as the source does; ends it when `ended`. */
function judge(stream: Uint8Array, ended = true): ReturnType<AnnexBFormatCheck['observe']> {
  const parser = new AnnexBParser();
  const check = new AnnexBFormatCheck('file x');
  check.begin(parser.counters);
  for (let off = 0; off < stream.length; off += 65536) {
    const piece = stream.subarray(off, off + 65536);
    const aus = parser.push(piece);
    const v = check.observe(parser.counters, piece, aus.some((a) => a.sps !== undefined));
    if (v !== 'pending') return v;
  }
  if (!ended) return 'pending';
  parser.end();
  return check.end(parser.counters);
}

const random = (n: number, seed: number): Uint8Array => {
  let x = seed;
  return new Uint8Array(n).map(() => ((x = (x * 1103515245 + 12345) >>> 0), x >>> 24));
};

describe('stream format', () => {
  it('names common files by their magic bytes', () => {
    expect(isMp4(bytes([0, 0, 0, 0x20], 'ftypisom'))).toBe(true);
    expect(describeMagic(bytes([0, 0, 0, 0x20], 'ftypisom'))).toBe('an MP4/QuickTime file');
    expect(describeMagic(bytes([0x1a, 0x45, 0xdf, 0xa3, 1]))).toBe('a Matroska/WebM file');
    expect(describeMagic(bytes([0xff, 0xd8, 0xff, 0xe0]))).toBe('a JPEG image');
    expect(describeMagic(bytes([0x89], 'PNG', [13, 10, 26, 10]))).toBe('a PNG image');
    const ts = new Uint8Array(376);
    ts[0] = 0x47;
    ts[188] = 0x47;
    expect(describeMagic(ts)).toBe('an MPEG-TS stream');
    expect(describeMagic(bytes([0, 0, 0, 1, 0x40, 0x01, 0x0c]))).toBe('an H.265 (HEVC) stream');
    expect(describeMagic(bytes('RTSP/1.0 200 OK\r\nCSeq: 1\r\n'))).toMatch(/RTSP server's reply/);
    expect(describeMagic(bytes('just some words in a text file\n'))).toBe('text');
    expect(describeMagic(bytes([0, 0, 0, 1, 0x67, 0x42]))).toBeUndefined();
  });

  it('accepts a real H.264 stream, short or long', async () => {
    const { bytes: clip } = await makeClip(320, 240, 30);
    expect(judge(clip)).toBe('ok');
    expect(clip.length).toBeLessThan(FORMAT_WINDOW_BYTES);
    // Garbage at the front, less than the stream: still H.264.
    expect(judge(concat([random(clip.length >> 1, 7).map((b) => b || 1), clip]))).toBe('ok');
  });

  it('refuses bytes without start codes, mostly garbage, or without an SPS, saying what they look like', async () => {
    const png = concat([bytes([0x89], 'PNG', [13, 10, 26, 10]), random(3000, 1).map((b) => b || 1)]);
    const refused = judge(png);
    expect(refused).toBeInstanceOf(CameraFormatError);
    expect((refused as CameraFormatError).code).toBe('E_CAMERA_FORMAT');
    expect((refused as Error).message).toBe('file x: not an H.264 Annex B stream, no H.264 start codes in the first 3008 bytes: it looks like a PNG image');
    // Two megabytes of noise: judged after the first, not at the end.
    expect((judge(random(2 * FORMAT_WINDOW_BYTES, 2), false) as Error).message).toMatch(/^file x: not an H.264 Annex B stream, (no H.264 start codes|\d+% of the first \d+ bytes are not H.264)/);
    // Start codes, but parameter sets and slices of an H.265 stream.
    const hevc = concat(Array.from({ length: 50 }, (_, i) => bytes([0, 0, 0, 1, 0x40, 0x01, 0x0c, 1, 0xff], [0, 0, 0, 1, 0x42, 0x01, 1, 1], [0, 0, 0, 1, 0x26, 0x01, 0xaf, i + 1])));
    expect((judge(hevc) as Error).message).toMatch(/no H.264 SPS .*: it looks like an H.265 \(HEVC\) stream$/);
  });

  it('judges any bytes without throwing, and never refuses the clip after a short prefix of garbage', async () => {
    const { bytes: clip } = await makeClip(64, 48, 10);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 5000 }), (junk) => {
        const v = judge(junk);
        expect(v === 'ok' || v === 'pending' || v instanceof CameraFormatError).toBe(true);
        if (junk.length < clip.length / 2) expect(judge(concat([junk, clip]))).toBe('ok');
      }),
      { numRuns: 200 },
    );
  });
});
