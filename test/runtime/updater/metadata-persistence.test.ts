import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { makeTempDir } from '../../support/temp-dir.js';
import { TufRig } from '../../support/tuf-rig.js';

const MODEL = 'models/press/1/model.onnx';
const NEXT = 'models/press/2/model.onnx';

function version(file: string): number {
  return (JSON.parse(readFileSync(file, 'utf8')) as { signed: { version: number } }).signed.version;
}

describe('TUF metadata on the gateway: written off the event loop, on disk when a refresh returns', () => {
  let dir: { path: string; remove: () => Promise<void> };
  let rig: TufRig;

  beforeEach(async () => {
    dir = await makeTempDir();
    rig = new TufRig(`${dir.path}/repo`);
    await rig.start();
    await rig.publishFile(MODEL, new Uint8Array(100).fill(1));
  });

  afterEach(async () => {
    await rig.stop();
    await dir.remove();
  });

  it('a refresh returns with every verified role whole on disk and no temporary file left', async () => {
    await rig.pin();
    const c = rig.client();
    await c.refresh();
    await c.target(MODEL);
    const md = `${rig.dir}/gw/metadata`;
    for (const role of ['timestamp', 'snapshot', 'targets']) {
      const served = role === 'timestamp' ? `${rig.dir}/repo/metadata/timestamp.json` : `${rig.dir}/repo/metadata/${version(`${md}/${role}.json`)}.${role}.json`;
      expect(readFileSync(`${md}/${role}.json`).equals(readFileSync(served)), role).toBe(true);
    }
    expect(readdirSync(md).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('a full disk fails the refresh with the disk named, keeps the old metadata whole, and the next refresh with room succeeds', async () => {
    if (process.getuid?.() !== 0) throw new Error('this test mounts a small tmpfs and needs root (run the tests as root, as CI does)');
    const mnt = `${rig.dir}/full`;
    mkdirSync(mnt, { recursive: true });
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', mnt]);
    try {
      await rig.pin('full');
      const md = `${mnt}/metadata`;
      await rig.client('full').refresh();
      const before = version(`${md}/timestamp.json`);
      // Someone else fills the disk; then the repository publishes a new release.
      try {
        writeFileSync(`${mnt}/filler`, Buffer.alloc(2 * 1024 * 1024, 7));
      } catch (err) {
        expect((err as NodeJS.ErrnoException).code).toBe('ENOSPC');
      }
      await rig.publishFile(NEXT, new Uint8Array(100).fill(2));
      const c = rig.client('full');
      const err = await c.refresh().then(() => undefined, (e: unknown) => e as Error);
      expect(err?.message).toMatch(/ENOSPC/);
      expect(version(`${md}/timestamp.json`)).toBe(before);
      expect(readdirSync(md).filter((f) => f.endsWith('.tmp'))).toEqual([]);
      // Room again: the same client refreshes, finds the new release, and keeps its metadata.
      execFileSync('rm', ['-f', `${mnt}/filler`]);
      await c.refresh();
      expect((await c.target(NEXT)).length).toBe(100);
      expect(version(`${md}/timestamp.json`)).toBe(before + 1);
    } finally {
      execFileSync('umount', ['-l', mnt]);
    }
  });
});
