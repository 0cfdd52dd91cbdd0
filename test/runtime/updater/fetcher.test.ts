import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ResumingFetcher } from '../../../runtime/updater/fetcher.js';
import { makeTempDir } from '../../support/temp-dir.js';
import { waitFor } from '../../support/wait-for.js';

/**
 * The gateway's target download against a real loopback server: bytes arrive in many small
 * network chunks and are written behind the network in batches, so these check what batching
 * must not change: the file is the signed bytes, a cut connection keeps exactly what arrived
 * (and the next attempt resumes after it), and a full disk fails the download instead of
 * leaving a file with a hole.
 */
const MODEL = randomBytes(3 * 1024 * 1024 + 17);
const SHA = createHash('sha256').update(MODEL).digest('hex');

describe('ResumingFetcher.downloadVerified', () => {
  let dir: { path: string; remove: () => Promise<void> };
  let server: Server;
  let url: string;
  /** Bytes the server sends of a full (not ranged) response before cutting it; undefined: all. */
  let cutAfter: number | undefined;
  const ranges: string[] = [];

  beforeEach(async () => {
    dir = await makeTempDir();
    cutAfter = undefined;
    ranges.length = 0;
    server = createServer((req, res) => {
      const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
      const from = m === null ? 0 : Number(m[1]);
      if (m !== null) ranges.push(req.headers.range as string);
      res.writeHead(m === null ? 200 : 206, { 'content-length': MODEL.length - from, ...(m === null ? {} : { 'content-range': `bytes ${from}-${MODEL.length - 1}/${MODEL.length}` }) });
      const end = m === null && cutAfter !== undefined ? cutAfter : MODEL.length;
      // 4 KiB at a time: many small chunks, as a slow link delivers them.
      let at = from;
      const next = (): void => {
        while (at < end) {
          const more = res.write(MODEL.subarray(at, Math.min(end, at + 4096)));
          at = Math.min(end, at + 4096);
          if (!more) {
            res.once('drain', next);
            return;
          }
        }
        if (end < MODEL.length) res.socket?.destroy();
        else res.end();
      };
      next();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/m.onnx`;
  });
  afterEach(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await dir.remove();
  });

  it('writes exactly the signed bytes, from thousands of small network chunks', async () => {
    const fetcher = new ResumingFetcher({ partialDir: `${dir.path}/partial`, idleTimeoutMs: 5000 });
    await fetcher.downloadVerified(url, MODEL.length, { sha256: SHA }, `${dir.path}/t/m.onnx`);
    expect(readFileSync(`${dir.path}/t/m.onnx`).equals(MODEL)).toBe(true);
    expect(readdirSync(`${dir.path}/partial`)).toEqual([]);
  });

  it('keeps exactly what arrived when the connection is cut, and resumes after it', async () => {
    const fetcher = new ResumingFetcher({ partialDir: `${dir.path}/partial`, idleTimeoutMs: 5000 });
    cutAfter = 1024 * 1024 + 4096 * 3;
    await expect(fetcher.downloadVerified(url, MODEL.length, { sha256: SHA }, `${dir.path}/t/m.onnx`)).rejects.toThrow();
    const parts = readdirSync(`${dir.path}/partial`);
    expect(parts).toHaveLength(1);
    const kept = readFileSync(`${dir.path}/partial/${parts[0] as string}`);
    // Every byte written is the right byte, and nothing is left in memory unwritten.
    expect(kept.length).toBeGreaterThan(0);
    expect(kept.length).toBeLessThanOrEqual(cutAfter);
    expect(kept.equals(MODEL.subarray(0, kept.length))).toBe(true);
    cutAfter = undefined;
    await fetcher.downloadVerified(url, MODEL.length, { sha256: SHA }, `${dir.path}/t/m.onnx`);
    expect(ranges).toEqual([`bytes=${kept.length}-`]);
    expect(readFileSync(`${dir.path}/t/m.onnx`).equals(MODEL)).toBe(true);
  });

  it('fails on a full disk, leaves no file in place, and succeeds once there is room', async () => {
    if (process.getuid?.() !== 0) throw new Error('this test mounts a small tmpfs and needs root (run the tests as root, as CI does)');
    const mnt = `${dir.path}/mnt`;
    mkdirSync(mnt);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', mnt]);
    try {
      const fetcher = new ResumingFetcher({ partialDir: `${mnt}/partial`, idleTimeoutMs: 5000 });
      const err = await fetcher.downloadVerified(url, MODEL.length, { sha256: SHA }, `${mnt}/t/m.onnx`).then(() => undefined, (e: unknown) => e as Error);
      expect(err?.message).toMatch(/ENOSPC|short write/);
      expect(existsSync(`${mnt}/t/m.onnx`)).toBe(false);
      // Room again: the same fetcher finishes the download (resumed or restarted) and verifies it.
      execFileSync('mount', ['-o', 'remount,size=8m', mnt]);
      await waitFor(() => statSync(mnt).isDirectory(), 'the remount', 5000);
      await fetcher.downloadVerified(url, MODEL.length, { sha256: SHA }, `${mnt}/t/m.onnx`);
      expect(readFileSync(`${mnt}/t/m.onnx`).equals(MODEL)).toBe(true);
    } finally {
      execFileSync('umount', ['-l', mnt]);
    }
  });
});
