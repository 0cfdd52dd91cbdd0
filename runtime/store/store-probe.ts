import type { Database } from './database.js';
import { META_PROBE } from './keys.js';

/**
 * Is the store answering? A small write (one key, overwritten) started when asked and none is
 * in flight; the store is stuck when one has not returned for `stallMs`. A write, not a read:
 * a read can be served from LevelDB's memory while the disk under it hangs (a dying SD card,
 * a frozen filesystem), and a hung disk is what a restart (or the operator it alerts) can fix.
 * LevelDB queues writers, so the probe also waits behind a record batch that hangs.
 *
 * A write that fails (a full disk, a damaged store) is an answer: the store code deals with
 * those and keeps serving, and a restart loop would not make room on a disk.
 */
export class StoreProbe {
  private inFlightSince: number | undefined;
  private readonly value = new Uint8Array(8);

  constructor(private readonly database: Database) {}

  /** Why the store is stuck, or undefined; starts the next probe when none is in flight. */
  stuck(nowMs: number, stallMs: number): string | undefined {
    const since = this.inFlightSince;
    if (since !== undefined) {
      const waited = nowMs - since;
      return waited > stallMs ? `store: a write to ${this.database.dir} has not returned for ${Math.round(waited / 1000)} s` : undefined;
    }
    if (this.database.state !== 'ok') return undefined; // down or damaged: the store's own recovery is at work
    this.inFlightSince = nowMs;
    new DataView(this.value.buffer).setFloat64(0, nowMs);
    const done = (): void => {
      this.inFlightSince = undefined;
    };
    try {
      this.database.db.put(META_PROBE, this.value).then(done, done);
    } catch {
      done();
    }
    return undefined;
  }
}
