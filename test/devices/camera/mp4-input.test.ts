import fc from 'fast-check';
import { open, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AnnexBParser } from '../../../devices/camera/annexb.js';
import { CameraSource, type CameraOptions } from '../../../devices/camera/camera-source.js';
import { avccToAnnexB, mp4AccessUnits, type Mp4Unit } from '../../../devices/camera/mp4-input.js';
import { patternIndex } from '../../../sim/video/test-pattern.js';
import { waitFor } from '../../support/wait-for.js';
import { collectingContext, concat, encodeWithFfmpeg, ffmpeg, makeClip } from './clip.js';

const FRAMES = 150; // the test clip: 5 s at 30 fps, keyframes every 30, no B-frames (libopenh264)
let dir: string;
/** The test clip as raw Annex B, and remuxed (`-c copy`) into a plain MP4 (moov last, as ffmpeg writes it) and a fragmented one. */
const files = { h264: '', mp4: '', fragmented: '', bframes: '' };

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'camera-mp4-'));
  const clip = await makeClip(320, 240, FRAMES);
  files.h264 = join(dir, 'clip.h264');
  await writeFile(files.h264, clip.bytes);
  files.mp4 = join(dir, 'clip.mp4');
  await ffmpeg(['-r', '30', '-i', files.h264, '-c', 'copy', files.mp4]);
  files.fragmented = join(dir, 'clip-fragmented.mp4');
  await ffmpeg(['-r', '30', '-i', files.h264, '-c', 'copy', '-movflags', 'frag_keyframe+empty_moov', files.fragmented]);
  // What most users have: x264 (High profile, B-frames, so decode order is not display order) with an audio track.
  const video = join(dir, 'x264.mp4');
  await encodeWithFfmpeg(320, 240, 90, video, ['-c:v', 'libx264', '-preset', 'veryfast', '-g', '30', '-crf', '18']);
  files.bframes = join(dir, 'x264-audio.mp4');
  await ffmpeg(['-i', video, '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000', '-c:v', 'copy', '-c:a', 'aac', '-shortest', files.bframes]);
}, 60_000);
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const base = { id: 'cam', stream: 'cam', realtime: false, reconnect: { minDelayMs: 10, maxDelayMs: 100 } } as const;

async function withSource(options: Partial<CameraOptions> & Pick<CameraOptions, 'input'>, body: (s: CameraSource, c: ReturnType<typeof collectingContext>) => Promise<void>): Promise<void> {
  const source = new CameraSource({ ...base, ...options });
  const c = collectingContext();
  await source.start(c.ctx);
  try {
    await body(source, c);
  } finally {
    await source.stop();
  }
}

const indices = (c: ReturnType<typeof collectingContext>): number[] => c.frames().map((d) => patternIndex(d.frame));
const gaps = (c: ReturnType<typeof collectingContext>): number[] => c.records.slice(1).map((r, i) => r.ts - c.records[i]!.ts);

/** Every unit of an MP4, with the bytes read when each came out. */
async function demux(path: string): Promise<{ units: Mp4Unit[]; readAt: number[]; readTotal: number; size: number }> {
  const handle = await open(path, 'r');
  try {
    const size = (await stat(path)).size;
    let readTotal = 0;
    const file = {
      size,
      read: async (into: Uint8Array, position: number): Promise<number> => {
        const n = (await handle.read(into, 0, into.length, position)).bytesRead;
        readTotal += n;
        return n;
      },
    };
    const units: Mp4Unit[] = [];
    const readAt: number[] = [];
    for await (const u of mp4AccessUnits(file, path, new AbortController().signal)) {
      units.push(u);
      readAt.push(readTotal);
    }
    return { units, readAt, readTotal, size };
  } finally {
    await handle.close();
  }
}

describe('camera source: MP4 files', () => {
  for (const kind of ['mp4', 'fragmented'] as const) {
    it(`decodes every frame of ${kind === 'mp4' ? 'an MP4 (moov after the samples)' : 'a fragmented MP4'}, in order, timed by the file`, async () => {
      await withSource({ input: { file: files[kind] } }, async (source, c) => {
        await waitFor(() => c.records.length >= FRAMES, `${FRAMES} frames`, 15_000);
        await waitFor(() => source.stats().connected === false, 'the file read to its end');
        expect(indices(c)).toEqual([...Array(FRAMES).keys()]);
        // No streamFps in the config: the samples' own times (30 fps in the file).
        for (const g of gaps(c)) expect(g).toBeCloseTo(1000 / 30, 1);
        expect(source.stats()).toMatchObject({ container: 'mp4', accessUnits: FRAMES, keyframes: 5, framesDecoded: FRAMES, framesEmitted: FRAMES, garbageBytes: 0, lostPictures: 0, degraded: false });
      });
    });
  }

  it('decodes an x264 MP4 with B-frames and an audio track: every frame, in display order, evenly spaced', async () => {
    await withSource({ input: { file: files.bframes } }, async (source, c) => {
      await waitFor(() => c.records.length >= 90, '90 frames', 15_000);
      expect(indices(c)).toEqual([...Array(90).keys()]);
      for (const g of gaps(c)) expect(g).toBeCloseTo(1000 / 30, 1);
      expect(source.stats()).toMatchObject({ accessUnits: 90, framesDecoded: 90, lostPictures: 0, decodeErrors: 0 });
    });
  });

  it('spaces frames at streamFps when the config gives one, whatever the file says', async () => {
    await withSource({ input: { file: files.bframes }, streamFps: 10 }, async (_source, c) => {
      await waitFor(() => c.records.length >= 90, '90 frames', 15_000);
      expect(indices(c)).toEqual([...Array(90).keys()]);
      for (const g of gaps(c)) expect(g).toBeCloseTo(100, 1);
    });
  });

  it('plays an MP4 in real time at its own rate and loops it, times still increasing', async () => {
    const short = join(dir, 'short-60fps.mp4');
    await ffmpeg(['-r', '60', '-i', files.h264, '-frames:v', '30', '-c', 'copy', short]);
    const { units } = await demux(short);
    await withSource({ input: { file: short, loop: true }, realtime: true }, async (source, c) => {
      const t0 = Date.now();
      await waitFor(() => c.records.length >= 45, '45 frames', 10_000);
      // 45 frames at 60 fps take 0.73 s: paced by the file's times.
      expect(Date.now() - t0).toBeGreaterThan(600);
      expect(indices(c).slice(0, 45)).toEqual([...[...Array(30).keys()], ...[...Array(15).keys()]]);
      // One frame (16.7 ms) apart; across the loop, the last sample's duration (ffmpeg gave it its own).
      gaps(c)
        .slice(0, 44)
        .forEach((g, i) => expect(g).toBeCloseTo(i === 29 ? units.at(-1)!.durationUs / 1000 : 1000 / 60, 1));
      expect(source.stats().lostPictures).toBe(0);
    });
  });

  it('reads an MP4 in pieces: frames come before the file is read, and a moov at the end costs one extra pass at most', async () => {
    const big = join(dir, 'big.mp4');
    // Noise keeps the encoder from squeezing it: about 5 MB.
    const noisy = ['-f', 'lavfi', '-i', 'testsrc2=size=640x360:rate=30', '-vf', 'noise=alls=40:allf=t', '-frames:v', '300'];
    await ffmpeg([...noisy, '-c:v', 'libx264', '-preset', 'ultrafast', '-g', '30', '-b:v', '8M', '-movflags', '+faststart', big]);
    const fast = await demux(big);
    expect(fast.units).toHaveLength(300);
    expect(fast.size).toBeGreaterThan(2_000_000);
    expect(fast.readTotal).toBe(fast.size);
    // The first unit left when at most a few 256 KiB pieces had been read.
    expect(fast.readAt[0]).toBeLessThanOrEqual(4 * 256 * 1024);
    const last = join(dir, 'big-moov-last.mp4');
    await ffmpeg(['-i', big, '-c', 'copy', last]);
    const slow = await demux(last);
    expect(slow.units.map((u) => u.timeUs)).toEqual(fast.units.map((u) => u.timeUs));
    expect(slow.readTotal).toBeLessThan(2 * slow.size);
  });

  it('converts AVCC samples to the Annex B the parser splits, with the parameter sets before keyframes', () => {
    // NAL units without zero bytes (real ones carry emulation prevention; these cannot fake a start code).
    const nal = fc.uint8Array({ minLength: 1, maxLength: 300 }).map((a) => a.map((b) => b || 0x41).map((b, i) => (i === 0 ? (b & 0x60) | 1 : b)));
    fc.assert(
      fc.property(fc.constantFrom(1, 2, 4), fc.array(nal, { minLength: 1, maxLength: 8 }), fc.boolean(), (lengthSize, nals, key) => {
        const fits = nals.filter((n) => n.length < 2 ** (8 * lengthSize));
        if (fits.length === 0) return;
        const avcc = concat(fits.map((n) => concat([new Uint8Array(lengthSize).map((_, i) => (n.length >> (8 * (lengthSize - 1 - i))) & 0xff), n])));
        const params = key ? [new Uint8Array([0x67, 0x42, 0xc0, 0x1e]), new Uint8Array([0x68, 0xce, 0x3c, 0x80])] : [];
        const out = avccToAnnexB(avcc, lengthSize, params);
        expect(out).toEqual(concat([...params, ...fits].map((n) => concat([new Uint8Array([0, 0, 0, 1]), n]))));
      }),
      { numRuns: 300 },
    );
  });

  it('never throws on a damaged sample: a length past the end stops the conversion there', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2000 }), fc.constantFrom(1, 2, 4), (bytes, lengthSize) => {
        const out = avccToAnnexB(bytes, lengthSize, []);
        if (out !== undefined) expect(out.length).toBeLessThanOrEqual(bytes.length * 5);
        // Whatever came out is something the parser takes without throwing.
        const parser = new AnnexBParser();
        parser.push(out ?? new Uint8Array(0));
        parser.end();
      }),
      { numRuns: 300 },
    );
  });
});
