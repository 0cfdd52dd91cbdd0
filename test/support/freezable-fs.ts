import { execFile } from 'node:child_process';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/**
 * A small ext4 filesystem on a loop device that a test can freeze (`fsfreeze -f`): every write
 * to it then blocks in the kernel until it is thawed, as on a disk that hangs (a dying SD card,
 * a stalled USB bridge). Needs root (mount, losetup), as `npm test` runs. A process blocked on a
 * frozen filesystem cannot even be killed until the thaw, so `remove` always thaws first.
 */
export class FreezableFs {
  private frozen = false;
  private constructor(
    /** The mount point: put what should hang under it. */
    readonly path: string,
    private readonly image: string,
  ) {}

  static async create(parent: string, sizeMb = 128): Promise<FreezableFs> {
    const image = join(parent, 'freezable.img');
    const path = join(parent, 'freezable');
    await mkdir(path, { recursive: true });
    await run('truncate', ['-s', `${sizeMb}M`, image]);
    await run('/usr/sbin/mkfs.ext4', ['-q', '-F', image]);
    await run('mount', ['-o', 'loop', image, path]);
    return new FreezableFs(path, image);
  }

  async freeze(): Promise<void> {
    await run('/usr/sbin/fsfreeze', ['-f', this.path]);
    this.frozen = true;
  }

  async thaw(): Promise<void> {
    if (!this.frozen) return;
    await run('/usr/sbin/fsfreeze', ['-u', this.path]);
    this.frozen = false;
  }

  async remove(): Promise<void> {
    await this.thaw().catch(() => undefined);
    // A process that had files open there may still be closing them: retry the unmount briefly.
    for (let i = 0; ; i += 1) {
      try {
        await run('umount', [this.path]);
        break;
      } catch (err) {
        if (i >= 50) throw err;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    await rm(this.image, { force: true });
  }
}
