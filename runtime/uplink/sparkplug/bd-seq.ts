import { mkdir, open, readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';

const FILE = 'sparkplug-bdseq.json';

/**
 * The birth/death sequence number, persisted. Each MQTT CONNECT registers an NDEATH Will
 * with the next bdSeq, 0-255 wrapping (tck-id-message-flow-edge-node-birth-publish-will-message-payload-bdSeq);
 * it is written to disk before the CONNECT goes out, so a restart after kill -9 never reuses
 * the number whose NDEATH the broker may still publish for the dead session.
 */
export class BdSeqStore {
  private constructor(
    private readonly dir: string,
    private last: number | undefined,
  ) {}

  /** Reads the last bdSeq from `dir`; a missing or unreadable file starts at 0 (nothing else to go on). */
  static async open(dir: string): Promise<BdSeqStore> {
    await mkdir(dir, { recursive: true });
    let last: number | undefined;
    try {
      const v = (JSON.parse(await readFile(join(dir, FILE), 'utf8')) as { bdSeq?: unknown }).bdSeq;
      if (typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 255) last = v;
    } catch {
      last = undefined;
    }
    return new BdSeqStore(dir, last);
  }

  /** The bdSeq of the last CONNECT (undefined before the first). */
  get current(): number | undefined {
    return this.last;
  }

  /** The bdSeq for the next CONNECT, durably stored before it returns. */
  async next(): Promise<number> {
    const value = this.last === undefined ? 0 : (this.last + 1) % 256;
    const path = join(this.dir, FILE);
    const tmp = `${path}.tmp`;
    const fh = await open(tmp, 'w');
    try {
      await fh.writeFile(JSON.stringify({ bdSeq: value }));
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
    this.last = value;
    return value;
  }
}
