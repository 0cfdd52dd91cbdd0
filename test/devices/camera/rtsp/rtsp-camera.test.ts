import { defaultBackend } from '../../../support/inference-backend.js';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CameraSource, type CameraOptions } from '../../../../devices/camera/camera-source.js';
import { cameraPlugin } from '../../../../devices/camera/index.js';
import type { FrameRecordData } from '../../../../runtime/pipeline/frame.js';
import { patternIndex } from '../../../../sim/video/test-pattern.js';
import { CapturingEventLog } from '../../../models/shadow-support.js';
import { freePort } from '../../../support/ports.js';
import { RtspTestServer } from '../../../support/rtsp-server.js';
import { waitFor } from '../../../support/wait-for.js';
import { collectingContext, makeClip } from '../clip.js';

const FRAMES = 90; // 3 s at 30 fps, keyframes at 0, 30, 60; the server loops it
let dir: string;
let clipFile: string;
const servers: RtspTestServer[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'rtsp-'));
  clipFile = join(dir, 'clip.h264');
  await writeFile(clipFile, (await makeClip(320, 240, FRAMES)).bytes);
});
afterAll(async () => {
  await Promise.all(servers.map((s) => s.stop()));
  await rm(dir, { recursive: true, force: true });
});

async function server(options: Partial<ConstructorParameters<typeof RtspTestServer>[0]> = {}): Promise<RtspTestServer> {
  // A small MTU: IDR slices go in FU-A fragments, parameter sets in STAP-A, small slices alone.
  const s = await RtspTestServer.start({ file: clipFile, mtu: 300, ...options });
  servers.push(s);
  return s;
}

const base = { id: 'cam', stream: 'cam', streamFps: 30, realtime: true, reconnect: { minDelayMs: 50, maxDelayMs: 400 } } as const;

async function withSource(input: CameraOptions['input'], body: (s: CameraSource, c: ReturnType<typeof collectingContext>) => Promise<void>): Promise<void> {
  const source = new CameraSource({ ...base, input });
  const c = collectingContext();
  await source.start(c.ctx);
  try {
    await body(source, c);
  } finally {
    await source.stop();
  }
}

const frames = (c: ReturnType<typeof collectingContext>): FrameRecordData[] => c.frames();
const indices = (c: ReturnType<typeof collectingContext>): number[] => frames(c).map((d) => patternIndex(d.frame));

/**
 * Each frame is the picture after the previous one, plus the pictures the camera source says
 * it skipped (`skippedBefore`), in the looping clip; where that does not hold (loss on the
 * wire, a reconnect), the frame must be a keyframe: nothing is decoded from a lost reference.
 */
function jumps(c: ReturnType<typeof collectingContext>): number[] {
  const f = frames(c);
  const idx = indices(c);
  const out: number[] = [];
  for (let i = 1; i < idx.length; i += 1) {
    if (idx[i] !== (idx[i - 1]! + 1 + (f[i]!.skippedBefore ?? 0)) % FRAMES) {
      expect(idx[i]! % 30, `frame ${i} (picture ${idx[i]}) after picture ${idx[i - 1]}`).toBe(0);
      out.push(i);
    }
  }
  return out;
}

describe('RTSP camera input (against GStreamer\'s RTSP server on loopback)', () => {
  it('validates its config: an rtsp:// URL, a credentials file or credentials in the URL, not both', () => {
    const check = (input: unknown): string[] => {
      const v = cameraPlugin.validate({ id: 'c', type: 'camera', input });
      if (v.error !== undefined) return ['schema'];
      return cameraPlugin.check(v.value, { sources: [], pipelines: [] } as never).map((p) => `${p.path.join('.')}: ${p.expected}`);
    };
    expect(check({ rtsp: 'rtsp://192.0.2.10:554/Streaming/Channels/101', credentialsFile: '/etc/edgewise/cam.cred', timeoutMs: 5000 })).toEqual([]);
    expect(check({ rtsp: 'rtsp://admin:secret@192.0.2.10/live' })).toEqual([]);
    expect(check({ rtsp: 'http://192.0.2.10/live' })).toEqual(['schema']);
    expect(check({ rtsp: 'rtsp://192.0.2.10/live', user: 'admin' })).toEqual(['schema']);
    expect(check({ rtsp: 'rtsp://admin@192.0.2.10/live', credentialsFile: '/x' })).toEqual(['input.credentialsFile: credentials in the URL or in credentialsFile, not both']);
    expect(cameraPlugin.files(cameraPlugin.validate({ id: 'c', type: 'camera', input: { rtsp: 'rtsp://h/x', credentialsFile: '/etc/c' } }).value)).toEqual([
      { key: ['input', 'credentialsFile'], file: '/etc/c', what: 'an RTSP credentials file (one line user:password)' },
    ]);
  });

  it('plays the stream: every picture decoded in order from the first keyframe, and TEARDOWN on stop', async () => {
    const s = await server();
    await withSource({ rtsp: s.url() }, async (source, c) => {
      await waitFor(() => c.records.length >= 100, '100 frames', 20_000);
      expect(indices(c)[0]).toBe(0);
      expect(jumps(c)).toEqual([]);
      expect(source.stats()).toMatchObject({ connected: true, rtspSessions: 1, reconnects: 0, rtpPacketsLost: 0, rtpPicturesDamaged: 0, decodeErrors: 0, garbageBytes: 0, lastError: null });
      expect(source.stats().rtpPackets as number).toBeGreaterThan(100);
    });
    await waitFor(() => s.teardowns === 1, 'the server to get TEARDOWN', 5000);
  });

  it('resumes after the server is killed mid-stream and restarted on the same port; the counters show the break', async () => {
    // The port must stay the same across the restart: one below the ephemeral range (a
    // client reconnecting to a port in it could meet its own connection there).
    const s = await server({ port: await freePort() });
    await withSource({ rtsp: s.url(), timeoutMs: 3000 }, async (source, c) => {
      // Killed between pictures 35 and 50 of the loop, so that the restart (which plays from
      // picture 0) shows as a jump: a kill just after picture 89 would look seamless.
      await waitFor(() => c.records.length >= 30 && (indices(c).at(-1) ?? 0) >= 35 && (indices(c).at(-1) ?? 0) <= 50, 'a frame between pictures 35 and 50', 20_000);
      await s.kill();
      await waitFor(() => source.stats().connected === false, 'the input to notice', 10_000);
      // FIN or RST, depending on whether the server had unread bytes when it died.
      expect(source.stats().lastError).toMatch(/^rtsp rtsp:\/\/127\.0\.0\.1:\d+\/cam: (the camera closed the connection|read ECONNRESET)$/);
      // While the server is away, reconnects keep failing (and are counted).
      await waitFor(() => (source.stats().reconnects as number) >= 1 && /cannot connect: connect ECONNREFUSED/.test(String(source.stats().lastError)), 'a refused reconnect', 10_000);
      const before = c.records.length;
      await s.start();
      await waitFor(() => c.records.length >= before + 40, '40 frames after the restart', 20_000);
      // One break in the pictures, where the restarted server began its clip again: picture 0, a keyframe.
      const breaks = jumps(c);
      expect(breaks).toHaveLength(1);
      expect(indices(c)[breaks[0]!]).toBe(0);
      const stats = source.stats();
      // The new session's RTP timestamps start elsewhere: its first picture anchors the clock afresh (not a reset), and times go on increasing.
      expect(stats).toMatchObject({ connected: true, rtspSessions: 2, decodeErrors: 0, rtpPicturesDamaged: 0, rtpClockResets: 0 });
      expect(stats.reconnects as number).toBeGreaterThanOrEqual(1);
      const times = frames(c).map((d) => d.frame.timestampUs);
      expect(times.every((t, i) => i === 0 || t > times[i - 1]!)).toBe(true);
    });
  });

  it('counts RTP packets the camera drops, and hands on no picture that lost one: frames resume at the next keyframe', async () => {
    const s = await server({ dropEvery: 37 });
    await withSource({ rtsp: s.url() }, async (source, c) => {
      // The client counts a gap when the packet after it arrives; the server says what it dropped.
      await waitFor(() => s.droppedPackets >= 4 && source.stats().rtpPacketsLost === s.droppedPackets, 'four drops seen on both sides', 30_000);
      const stats = source.stats();
      expect(stats.rtpPicturesDamaged as number).toBeGreaterThanOrEqual(1);
      expect(stats.rtpPicturesSkippedToKey as number).toBeGreaterThanOrEqual(1);
      expect(stats).toMatchObject({ decodeErrors: 0, reconnects: 0, rtspSessions: 1 });
      expect(jumps(c).length).toBeGreaterThanOrEqual(1);
    });
  });

  it('logs in with Digest from a credentials file; says why when the login is missing or wrong, never with the password', async () => {
    const s = await server({ user: 'viewer', password: 'Circle of Life', auth: 'digest' });
    const good = join(dir, 'good.cred');
    const bad = join(dir, 'bad.cred');
    await writeFile(good, 'viewer:Circle of Life\n', { mode: 0o600 });
    await writeFile(bad, 'viewer:Circle of Lies\n', { mode: 0o600 });
    await withSource({ rtsp: s.url(), credentialsFile: good }, async (source, c) => {
      await waitFor(() => c.records.length >= 10, '10 frames', 20_000);
      expect(source.stats()).toMatchObject({ rtspSessions: 1, lastError: null });
    });
    await withSource({ rtsp: s.url(), credentialsFile: bad }, async (source, c) => {
      await waitFor(() => (source.stats().reconnects as number) >= 1, 'a second refused attempt', 10_000);
      expect(source.stats().lastError).toMatch(/DESCRIBE: the camera refused the credentials \(Digest MD5\)/);
      expect(String(source.stats().lastError)).not.toContain('Lies');
      expect(c.records.length).toBe(0);
    });
    await withSource({ rtsp: s.url() }, async (source) => {
      await waitFor(() => source.stats().lastError !== null, 'the refusal', 10_000);
      expect(source.stats().lastError).toMatch(/DESCRIBE needs a login \(digest\): give the camera a credentialsFile/);
    });
    await withSource({ rtsp: s.url(), credentialsFile: join(dir, 'missing.cred') }, async (source) => {
      await waitFor(() => source.stats().lastError !== null, 'the error', 10_000);
      expect(source.stats().lastError).toMatch(/cannot read the credentials file .*missing\.cred: ENOENT/);
    });
  });

  it('logs in with Basic from credentials in the URL, built from a config entry, and warns once that the URL holds a password', async () => {
    const s = await server({ user: 'viewer', password: 'p@ss:word', auth: 'basic' });
    const events = new CapturingEventLog();
    const entry = cameraPlugin.validate({ id: 'gate', type: 'camera', input: { rtsp: s.url('viewer:p%40ss%3Aword') }, reconnect: { minDelayMs: 50, maxDelayMs: 400 } });
    expect(entry.error).toBeUndefined();
    const source = (await cameraPlugin.create(entry.value, { backend: defaultBackend(), gatewayId: 'gw', stateDir: dir, decisions: { append: async () => undefined }, events: events.for('camera') })) as CameraSource;
    const c = collectingContext();
    await source.start(c.ctx);
    try {
      await waitFor(() => c.records.length >= 10, '10 frames', 20_000);
      expect(source.stats()).toMatchObject({ rtspSessions: 1, lastError: null });
    } finally {
      await source.stop();
    }
    const warnings = events.seen.filter((e) => e.event === 'camera.rtsp_password_in_url');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]!.fields).toMatchObject({ source: 'gate', reason: expect.stringMatching(/move it to input.credentialsFile/) });
    expect(JSON.stringify(events.seen)).not.toContain('p@ss');
  });

  it('reconnects when the server hangs (connected, silent), and resumes when it answers again', async () => {
    const s = await server();
    await withSource({ rtsp: s.url(), timeoutMs: 1000 }, async (source, c) => {
      await waitFor(() => c.records.length >= 20, '20 frames', 20_000);
      s.freeze();
      await waitFor(() => /no RTP for 1000 ms/.test(String(source.stats().lastError)), 'the idle timeout', 10_000);
      // Reconnecting to a hung server: TCP connects (the kernel accepts), the request goes unanswered.
      await waitFor(() => /no answer to OPTIONS within 1000 ms/.test(String(source.stats().lastError)), 'a request timeout', 10_000);
      const before = c.records.length;
      s.thaw();
      await waitFor(() => c.records.length >= before + 20, '20 frames after the server woke', 20_000);
      expect(source.stats().rtspSessions as number).toBeGreaterThanOrEqual(2);
      jumps(c);
    });
  });

  it('times frames by the camera\'s RTP clock: a 10 fps stream is 100 ms apart even when a stall delivers it in a burst', async () => {
    const s = await server({ fps: 10 });
    await withSource({ rtsp: s.url(), timeoutMs: 10_000 }, async (source, c) => {
      await waitFor(() => c.records.length >= 5, '5 frames', 20_000);
      // A stall on the camera's side: what it sends after comes in a burst. Frame times
      // come from the RTP timestamps, so the assertions hold however long the stall was.
      s.freeze();
      const frozenAt = c.records.length;
      const stalledUntil = performance.now() + 1500;
      await waitFor(() => performance.now() > stalledUntil, 'a 1.5 s stall', 5000);
      s.thaw();
      await waitFor(() => c.records.length >= frozenAt + 20, '20 frames after the stall', 20_000);
      const f = frames(c);
      const idx = indices(c);
      for (let i = 1; i < f.length; i += 1) {
        // The clip loops every 90 pictures; the server stamps picture n at n / 10 s.
        const pictures = (idx[i]! - idx[i - 1]! + FRAMES) % FRAMES;
        expect(pictures, `frame ${i}`).toBeGreaterThan(0);
        expect(f[i]!.frame.timestampUs - f[i - 1]!.frame.timestampUs, `frame ${i} (picture ${idx[i]}) after picture ${idx[i - 1]}`).toBeCloseTo(pictures * 100_000, -1);
      }
      expect(source.stats()).toMatchObject({ rtspSessions: 1, rtpClockResets: 0 });
    });
  });

  it('keeps the session alive with GET_PARAMETER at half the session timeout', async () => {
    const s = await server({ sessionTimeoutS: 2 });
    await withSource({ rtsp: s.url() }, async (source, c) => {
      await waitFor(() => (source.stats().rtspKeepalives as number) >= 2, 'two keepalives answered', 20_000);
      expect(source.stats()).toMatchObject({ connected: true, rtspSessions: 1, reconnects: 0 });
      expect(jumps(c)).toEqual([]);
    });
  });
});
