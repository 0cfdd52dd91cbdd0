import { createSocket } from 'node:dgram';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setImmediate as tick } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CameraSource, type CameraOptions } from '../../../devices/camera/camera-source.js';
import type { SourceContext } from '../../../runtime/pipeline/components.js';
import { patternIndex } from '../../../sim/video/test-pattern.js';
import { listenOnLoopback } from '../../support/ports.js';
import { waitFor } from '../../support/wait-for.js';
import { collectingContext, encodeWithFfmpeg, ffmpeg, makeClip } from './clip.js';

let dir: string;
let clip: Uint8Array;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'camera-format-'));
  clip = (await makeClip(320, 240, 60)).bytes;
}, 30_000);
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const base = { id: 'cam', stream: 'cam', realtime: false, reconnect: { minDelayMs: 20, maxDelayMs: 200 } } as const;

/** A context whose events the test reads. */
function watchedContext(): ReturnType<typeof collectingContext> & { logged: { level: string; event: string; fields: Record<string, unknown> }[] } {
  const c = collectingContext();
  const logged: { level: string; event: string; fields: Record<string, unknown> }[] = [];
  const events = new Proxy(c.ctx.events, {
    get: (target, prop, receiver) => {
      if (prop === 'error' || prop === 'warn') {
        return (event: string, fields: Record<string, unknown> = {}) => void logged.push({ level: prop, event, fields });
      }
      return Reflect.get(target, prop, receiver) as unknown;
    },
  });
  const ctx: SourceContext = { ...c.ctx, events };
  return { ...c, ctx, logged };
}

async function withSource(options: Partial<CameraOptions> & Pick<CameraOptions, 'input'>, body: (s: CameraSource, c: ReturnType<typeof watchedContext>) => Promise<void>): Promise<void> {
  const source = new CameraSource({ ...base, ...options });
  const c = watchedContext();
  await source.start(c.ctx);
  try {
    await body(source, c);
  } finally {
    await source.stop();
  }
}

async function file(name: string, bytes: Uint8Array): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, bytes);
  return path;
}

const random = (n: number): Uint8Array => {
  let x = 12345;
  return new Uint8Array(n).map(() => ((x = (x * 1103515245 + 12345) >>> 0), x >>> 24));
};

/** The source refused its file: one E_CAMERA_FORMAT event, degraded with the reason, and no more reading. */
async function expectRefused(source: CameraSource, c: ReturnType<typeof watchedContext>, reason: RegExp): Promise<void> {
  await waitFor(() => source.stats().degraded === true, 'the source degraded');
  const s = source.stats();
  expect(s.degradedReason).toMatch(/^E_CAMERA_FORMAT: /);
  expect(s.degradedReason).toMatch(reason);
  expect(s).toMatchObject({ formatErrors: 1, framesEmitted: 0, reconnects: 0 });
  expect(c.logged).toEqual([{ level: 'error', event: 'camera.format_rejected', fields: { code: 'E_CAMERA_FORMAT', source: 'cam', reason: expect.stringMatching(reason) as unknown } }]);
  await waitFor(() => source.stats().connected === false, 'the file closed');
}

describe('camera source: input that is not H.264', () => {
  it('refuses a PNG (even asked to loop it): degraded, logged once, the file not read again', async () => {
    const png = join(dir, 'picture.png');
    await ffmpeg(['-f', 'lavfi', '-i', 'testsrc=size=320x240', '-frames:v', '1', png]);
    await withSource({ input: { file: png, loop: true } }, async (source, c) => {
      await expectRefused(source, c, /picture\.png: not an H\.264 Annex B stream, .* it looks like a PNG image$/);
      const read = source.stats().bytesIn;
      // The file was read once: a loop over it would be seen here as more bytes.
      await source.stop();
      expect(source.stats().bytesIn).toBe(read);
    });
  });

  it('refuses two megabytes of noise after the first, not at the end', async () => {
    const noise = await file('noise.h264', random(2 * 1024 * 1024));
    await withSource({ input: { file: noise, loop: true } }, async (source, c) => {
      await expectRefused(source, c, /noise\.h264: not an H\.264 Annex B stream/);
      expect(source.stats().bytesIn as number).toBeLessThan(1.5 * 1024 * 1024);
    });
  });

  it('refuses an MP4 whose video is H.265, naming the codec', async () => {
    const hevc = join(dir, 'hevc.mp4');
    await encodeWithFfmpeg(320, 240, 10, hevc, ['-c:v', 'libx265', '-x265-params', 'log-level=error']);
    await withSource({ input: { file: hevc } }, async (source, c) => {
      await expectRefused(source, c, /hevc\.mp4: the MP4's video track 1 is H\.265\/HEVC \((hev1|hvc1)\.[^)]*\), not H\.264/);
      expect(source.stats().container).toBe('mp4');
    });
  });

  it('refuses an MP4 whose video is MPEG-4 Part 2, naming the codec', async () => {
    const mpeg4 = join(dir, 'mpeg4.mp4');
    await encodeWithFfmpeg(320, 240, 10, mpeg4, ['-c:v', 'mpeg4']);
    await withSource({ input: { file: mpeg4 } }, async (source, c) => {
      await expectRefused(source, c, /mpeg4\.mp4: the MP4's video track 1 is MPEG-4 Part 2 \(mp4v[^)]*\), not H\.264/);
    });
  });

  it('refuses a raw H.265 stream, saying it looks like one', async () => {
    const hevc = join(dir, 'clip.hevc');
    await encodeWithFfmpeg(320, 240, 10, hevc, ['-c:v', 'libx265', '-x265-params', 'log-level=error', '-f', 'hevc']);
    await withSource({ input: { file: hevc } }, async (source, c) => {
      await expectRefused(source, c, /clip\.hevc: no H\.264 SPS .*it looks like an H\.265 \(HEVC\) stream$/);
    });
  });

  it('refuses an MP4 cut off before its index (no moov), saying so', async () => {
    const whole = join(dir, 'whole.mp4');
    await ffmpeg(['-r', '30', '-i', await file('clip.h264', clip), '-c', 'copy', whole]);
    const bytes = await readFile(whole);
    // ffmpeg writes the moov last: half the file has none.
    const cut = await file('cut.mp4', bytes.subarray(0, bytes.length >> 1));
    await withSource({ input: { file: cut } }, async (source, c) => {
      await expectRefused(source, c, /cut\.mp4: no 'moov' box in this MP4/);
    });
  });

  it('drops a TCP camera that sends garbage and retries with backoff, degraded until H.264 comes', async () => {
    let connections = 0;
    let healthy = false;
    const sockets: Socket[] = [];
    const server = createServer((socket) => {
      sockets.push(socket);
      connections += 1;
      socket.on('error', () => undefined); // the source hangs up on garbage
      // A JPEG stream where H.264 was expected, until the camera is fixed.
      if (healthy) socket.write(clip);
      else socket.write(Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), Buffer.from(random(1024 * 1024 + 1000))]));
    });
    const port = await listenOnLoopback(server);
    try {
      await withSource({ input: { tcp: `127.0.0.1:${port}` } }, async (source, c) => {
        await waitFor(() => source.stats().formatErrors === 2, 'refused twice', 10_000);
        const s = source.stats();
        expect(s.degraded).toBe(true);
        expect(s.degradedReason).toMatch(/^E_CAMERA_FORMAT: tcp 127\.0\.0\.1:\d+: not an H\.264 Annex B stream, .*: it looks like a JPEG image$/);
        expect(connections).toBeGreaterThanOrEqual(2);
        expect(c.records).toHaveLength(0);
        healthy = true;
        await waitFor(() => c.records.length >= 59, 'frames once the camera sends H.264', 15_000);
        expect(c.frames().map((d) => patternIndex(d.frame))).toEqual([...Array(59).keys()]);
        expect(source.stats()).toMatchObject({ degraded: false, degradedReason: null });
        expect(c.logged.filter((l) => l.event === 'camera.format_rejected').length).toBe(source.stats().formatErrors);
      });
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('rebinds a UDP input that receives garbage, degraded until H.264 comes', async () => {
    await withSource({ input: { udp: '127.0.0.1:0' } }, async (source, c) => {
      const sender = createSocket('udp4');
      const send = async (payload: Uint8Array, port: number): Promise<void> => {
        for (let off = 0; off < payload.length; off += 1200) {
          sender.send(payload.subarray(off, off + 1200), port, '127.0.0.1');
          if ((off / 1200) % 32 === 31) await tick();
        }
      };
      try {
        // Syslog lines where H.264 was expected (a log shipper pointed at the wrong port); datagrams may be lost, so until refused.
        const text = new TextEncoder().encode('<134>1 2024-01-01T00:00:00Z host app - - - not video\n'.repeat(2000));
        const first = await waitFor(() => source.udpPort, 'the UDP socket bound');
        const deadline = Date.now() + 15_000;
        while (source.stats().formatErrors === 0 && Date.now() < deadline) await send(text, first);
        expect(source.stats()).toMatchObject({ formatErrors: 1, degraded: true });
        expect(source.stats().degradedReason).toMatch(/^E_CAMERA_FORMAT: udp 127\.0\.0\.1:0: not an H\.264 Annex B stream, .*: it looks like text$/);
        // Bound again after the backoff (port 0: wherever the system puts it), and the camera comes.
        await waitFor(() => source.stats().connected === true, 'the UDP socket bound again');
        const port = source.udpPort as number;
        for (const au of (await makeClip(320, 240, 30)).aus) await send(au.data, port);
        await waitFor(() => c.records.length >= 29, 'frames once H.264 comes', 15_000);
      } finally {
        sender.close();
      }
      expect(source.stats()).toMatchObject({ degraded: false, formatErrors: 1 });
      expect(c.frames().map((d) => patternIndex(d.frame))).toEqual([...Array(29).keys()]);
    });
  });
});
