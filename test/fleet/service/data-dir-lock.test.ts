import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { lockDataDir, lockHolder } from '../../../fleet/service/data-dir-lock.js';
import { CLI } from '../../support/gateway-process.js';
import { useFleetTestRig } from '../../support/fleet-test-rig.js';

const LOCK_JS = pathToFileURL(join(CLI, '..', '..', 'fleet', 'service', 'data-dir-lock.js')).href;
const boot = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();

/** A process that tries the lock, says whether it got it, and holds it a moment. */
function contender(dir: string): Promise<string> {
  const script = `const { lockDataDir } = await import(${JSON.stringify(LOCK_JS)});
try { await lockDataDir(${JSON.stringify(dir)}); process.stdout.write('got'); await new Promise((r) => setTimeout(r, 1500)); }
catch (err) { process.stdout.write(err.code ?? 'error'); }`;
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.on('exit', () => resolve(out));
  });
}

describe('the fleet data-directory lock', () => {
  const rig = useFleetTestRig();

  it('goes to exactly one of several fleets that find the same stale lock at once', async () => {
    for (let round = 0; round < 5; round += 1) {
      const dir = join(rig.dir.path, `d${round}`);
      await lockDataDir(dir).then((l) => l.release());
      // A lock left by a process that is gone.
      await writeFile(join(dir, 'fleet.lock'), `999999999 ${boot}\n`);
      const results = await Promise.all(Array.from({ length: 8 }, () => contender(dir)));
      // Sorted, so a failure shows what each loser said.
      expect(results.sort()).toEqual([...Array.from({ length: 7 }, () => 'E_FLEET_LOCKED'), 'got']);
    }
  }, 60_000);

  it('treats a lock from before a reboot as stale, even when its pid is alive now', async () => {
    const dir = join(rig.dir.path, 'rebooted');
    await lockDataDir(dir).then((l) => l.release());
    // pid 1 is alive, but that lock was written by another boot.
    await writeFile(join(dir, 'fleet.lock'), '1 some-earlier-boot\n');
    expect(await lockHolder(dir)).toBeUndefined();
    const lock = await lockDataDir(dir);
    expect(await lockHolder(dir)).toBe(process.pid);
    await lock.release();
  });
});
