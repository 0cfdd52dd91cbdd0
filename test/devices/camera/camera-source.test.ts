import { createSocket } from 'node:dgram';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setImmediate as tick } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AccessUnit } from '../../../devices/camera/annexb.js';
import { CameraSource, type CameraOptions } from '../../../devices/camera/camera-source.js';
import { cameraPlugin } from '../../../devices/camera/index.js';
import { checkFrame } from '../../../runtime/pipeline/frame.js';
import { patternIndex } from '../../../sim/video/test-pattern.js';
import { listenOnLoopback } from '../../support/ports.js';
import { waitFor } from '../../support/wait-for.js';
import { collectingContext, concat, encodeWithFfmpeg, makeClip } from './clip.js';

const FRAMES = 150; // 5 s at 30 fps, keyframes at 0, 30, 60, 90, 120
let clip: { bytes: Uint8Array; aus: AccessUnit[] };
let dir: string;

beforeAll(async () => {
  clip = await makeClip(320, 240, FRAMES);
  dir = await mkdtemp(join(tmpdir(), 'camera-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const base = { id: 'cam', stream: 'cam', streamFps: 30, realtime: false, reconnect: { minDelayMs: 10, maxDelayMs: 100 } } as const;

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

async function clipFile(name: string, bytes: Uint8Array): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, bytes);
  return path;
}

const indices = (c: ReturnType<typeof collectingContext>): number[] => c.frames().map((d) => patternIndex(d.frame));

describe('camera source', () => {
  it('validates its config and builds from it', () => {
    expect(cameraPlugin.validate({ id: 'c', type: 'camera', input: { tcp: '10.0.0.5:5000' }, fps: 5 }).error).toBeUndefined();
    expect(cameraPlugin.validate({ id: 'c', type: 'camera', input: { file: '/x.h264', loop: true }, realtime: false }).error).toBeUndefined();
    expect(cameraPlugin.validate({ id: 'c', type: 'camera', input: { udp: 'nohost' } }).error).toBeDefined();
    expect(cameraPlugin.validate({ id: 'c', type: 'camera', input: { tcp: 'h:1', udp: 'h:2' } }).error).toBeDefined();
    expect(cameraPlugin.validate({ id: 'c', type: 'camera', input: { file: 'x' }, colour: true }).error).toBeDefined();
  });

  it('decodes every frame of a file, in order, as frame records with wall-clock times', async () => {
    const file = await clipFile('clip.h264', clip.bytes);
    await withSource({ input: { file } }, async (source, c) => {
      await waitFor(() => c.records.length >= FRAMES, `${FRAMES} frames`, 15_000);
      expect(indices(c)).toEqual([...Array(FRAMES).keys()]);
      const r0 = c.records[0]!;
      expect(r0).toMatchObject({ stream: 'cam', class: 'telemetry' });
      expect(Math.abs(r0.ts - Date.now())).toBeLessThan(60_000);
      c.frames().forEach((d, i) => {
        checkFrame(d.frame);
        expect(d.skippedBefore).toBe(0);
        expect(d.frame.timestampUs).toBeCloseTo(c.records[i]!.ts * 1000, 0);
        // Played as fast as possible, yet spaced at the stream's rate.
        if (i > 0) expect(c.records[i]!.ts - c.records[i - 1]!.ts).toBeCloseTo(1000 / 30, 1);
      });
      expect(source.stats()).toMatchObject({ accessUnits: FRAMES, keyframes: 5, framesDecoded: FRAMES, framesEmitted: FRAMES, garbageBytes: 0, decodeErrors: 0, sampledOut: 0 });
    });
  });

  it('decodes the last pictures of a file with B-frames too: an N-frame file yields N frames, also when it loops', async () => {
    const file = join(dir, 'x264.h264');
    await encodeWithFfmpeg(320, 240, 47, file, ['-c:v', 'libx264', '-preset', 'veryfast', '-g', '30', '-crf', '18', '-f', 'h264']);
    await withSource({ input: { file } }, async (source, c) => {
      await waitFor(() => source.stats().connected === false && c.records.length >= 47, 'the file read and decoded', 15_000);
      expect(indices(c)).toEqual([...Array(47).keys()]);
      expect(source.stats()).toMatchObject({ accessUnits: 47, framesDecoded: 47, framesEmitted: 47, lostPictures: 0 });
      c.records.slice(1).forEach((r, i) => expect(r.ts - c.records[i]!.ts).toBeCloseTo(1000 / 30, 1));
    });
    await withSource({ input: { file, loop: true } }, async (source, c) => {
      await waitFor(() => c.records.length >= 3 * 47, 'three loops', 15_000);
      expect(indices(c).slice(0, 3 * 47)).toEqual([0, 1, 2].flatMap(() => [...Array(47).keys()]));
      expect(source.stats().lostPictures).toBe(0);
    });
  });

  it('samples down to fps: decodes every frame, emits the share asked for', async () => {
    const file = await clipFile('clip.h264', clip.bytes);
    await withSource({ input: { file }, fps: 10 }, async (source, c) => {
      await waitFor(() => source.stats().framesDecoded === FRAMES, 'every frame decoded', 15_000);
      await waitFor(() => source.stats().framesEmitted === 50, '50 frames emitted');
      expect(indices(c)).toEqual([...Array(50).keys()].map((i) => i * 3));
      expect(c.frames().map((d) => d.skippedBefore)).toEqual([0, ...Array(49).fill(2)]);
      expect(source.stats()).toMatchObject({ sampledOut: 100, framesDropped: 0 });
    });
  });

  it('plays a file in real time at streamFps, looping', async () => {
    const file = await clipFile('short.h264', concat(clip.aus.slice(0, 30).map((a) => a.data)));
    await withSource({ input: { file, loop: true }, realtime: true, streamFps: 60 }, async (source, c) => {
      const t0 = Date.now();
      await waitFor(() => c.records.length >= 45, '45 frames', 10_000);
      // 45 frames at 60 fps take 0.73 s: not much less (paced), not much more.
      expect(Date.now() - t0).toBeGreaterThan(600);
      expect(indices(c).slice(0, 45)).toEqual([...[...Array(30).keys()], ...[...Array(15).keys()]]);
      expect(source.stats().accessUnits).toBeGreaterThanOrEqual(45);
    });
  });

  it('survives garbage and a truncated picture: counts them, and frames resume at the next keyframe', async () => {
    const junk = new Uint8Array(3000).map((_, i) => ((i * 7919) % 251) + 1); // no zeros: no start code inside
    const parts: Uint8Array[] = [];
    clip.aus.forEach((au, i) => {
      if (i === 20) parts.push(junk); // glued to the tail of picture 19: corrupts it
      if (i === 40) parts.push(new Uint8Array([0, 0, 0, 1, 0xff]), junk); // not a NAL unit: skipped
      if (i === 70) return void parts.push(au.data.subarray(0, au.data.length >> 1)); // truncated picture (concealed, no error)
      if (i === 100) return void parts.push(au.data.map((b, k) => (k < 8 ? b : ((k * 131) & 0xff) || 1))); // noise in the slice: a decode error
      parts.push(au.data);
    });
    const file = await clipFile('broken.h264', concat(parts));
    await withSource({ input: { file } }, async (source, c) => {
      await waitFor(() => source.stats().accessUnits === FRAMES, 'every unit parsed', 15_000);
      await waitFor(() => indices(c).at(-1) === FRAMES - 1, 'the last frame', 5000);
      const got = new Set(indices(c));
      const s = source.stats();
      expect(s.garbageBytes).toBe(3 + 1 + 3000); // the invalid NAL unit: start code, header, body
      expect(s.decodeErrors as number).toBeGreaterThanOrEqual(1);
      for (let i = 0; i < 19; i += 1) expect(got.has(i)).toBe(true);
      for (let i = 120; i < FRAMES; i += 1) expect(got.has(i)).toBe(true);
      const missing = FRAMES - c.records.length;
      expect(c.frames().reduce((n, d) => n + (d.skippedBefore ?? 0), 0)).toBe(missing);
    });
  });

  it('reads a TCP camera and reconnects after the connection drops', async () => {
    let connections = 0;
    const sockets: Socket[] = [];
    const server = createServer((socket) => {
      sockets.push(socket);
      connections += 1;
      if (connections === 1) {
        // Half of the clip, cut inside a picture, then the camera goes away.
        const cut = clip.aus.slice(0, 45).reduce((n, a) => n + a.data.length, 0) + 100;
        socket.end(clip.bytes.subarray(0, cut));
      } else {
        socket.write(clip.bytes); // and stays connected, like a live camera
      }
    });
    const port = await listenOnLoopback(server);
    try {
      await withSource({ input: { tcp: `127.0.0.1:${port}` } }, async (source, c) => {
        await waitFor(() => connections === 2 && indices(c).includes(FRAMES - 2), 'the whole clip over the second connection', 15_000);
        const got = indices(c);
        // First connection: pictures 0..44 (45 was cut); second: 0..148 (149 waits for a next picture).
        expect(got.slice(0, 45)).toEqual([...Array(45).keys()]);
        expect(got.slice(45)).toEqual([...Array(FRAMES - 1).keys()]);
        expect(source.stats()).toMatchObject({ reconnects: 1, connected: true, decodeErrors: 0 });
        expect(source.stats().lastError).toMatch(/closed the connection/);
      });
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('times a live camera\'s first picture at its arrival, not a second before it', async () => {
    let sentAt = 0;
    const sockets: Socket[] = [];
    const server = createServer((socket) => {
      sockets.push(socket);
      // The first picture, ended by an access unit delimiter so the parser hands it on at once.
      sentAt = Date.now();
      socket.write(concat([(clip.aus[0] as AccessUnit).data, Uint8Array.of(0, 0, 0, 1, 0x09, 0xf0)]));
    });
    const port = await listenOnLoopback(server);
    try {
      await withSource({ input: { tcp: `127.0.0.1:${port}` } }, async (_source, c) => {
        await waitFor(() => c.frames().length === 1, 'the first picture', 10_000);
        const receivedAt = Date.now();
        const ts = (c.frames()[0] as { frame: { timestampUs: number } }).frame.timestampUs / 1000;
        // Its time is when it arrived: after it was sent (1 ms for rounding), before it was received.
        expect(ts).toBeGreaterThanOrEqual(sentAt - 1);
        expect(ts).toBeLessThanOrEqual(receivedAt);
      });
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('reads the stream from UDP datagrams', async () => {
    // Port 0: the source binds what it gets and reports it.
    await withSource({ input: { udp: '127.0.0.1:0' } }, async (source, c) => {
      const port = await waitFor(() => source.udpPort, 'the UDP socket bound');
      expect(source.stats().connected).toBe(true);
      const sender = createSocket('udp4');
      try {
        // 1200-byte datagrams cut anywhere in the stream; a pause per picture, as a camera sends them.
        for (const au of clip.aus) {
          for (let off = 0; off < au.data.length; off += 1200) sender.send(au.data.subarray(off, off + 1200), port, '127.0.0.1');
          await tick();
        }
        await waitFor(() => indices(c).includes(FRAMES - 2), 'the clip', 15_000);
      } finally {
        sender.close();
      }
      expect(indices(c)).toEqual([...Array(FRAMES - 1).keys()]);
      expect(source.stats()).toMatchObject({ datagramsDropped: 0, decodeErrors: 0 });
    });
  });
});
