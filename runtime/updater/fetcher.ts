import { createHash } from 'node:crypto';
import { mkdir, open, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Fetcher } from 'tuf-js';
import { DownloadHTTPError, DownloadLengthMismatchError } from 'tuf-js/dist/error.js';

class RangeIgnored extends Error {}

export interface ResumingFetcherOptions {
  /** Where partial downloads wait for the next attempt (survives a restart). */
  readonly partialDir: string;
  /** No byte for this long: the connection is given up (and resumed next time). */
  readonly idleTimeoutMs: number;
}

/**
 * tuf-js's fetcher, replaced for two things a gateway on a bad link needs:
 * - **resume**: a file download interrupted (connection cut, power cut, kill -9) continues
 *   from its `.part` file with an HTTP Range request on the next attempt; the URL carries the
 *   target's hash (consistent snapshots), so a partial file can only ever be continued with
 *   the same content, and TUF still verifies the whole file before it is used;
 * - **never more than declared**: reading stops and the connection is closed as soon as a
 *   response passes `maxLength` (the length TUF metadata declares), instead of holding an
 *   endless response open until a timeout.
 * A timeout applies to silence, not to the whole download, so a large model on a slow link
 * is not cut off while bytes keep coming.
 */
export class ResumingFetcher implements Fetcher {
  constructor(private readonly o: ResumingFetcherOptions) {}

  async downloadBytes(url: string, maxLength: number): Promise<Buffer> {
    const chunks: Uint8Array[] = [];
    await this.stream(url, 0, maxLength, (c) => {
      chunks.push(c);
    });
    return Buffer.concat(chunks);
  }

  async downloadFile<T>(url: string, maxLength: number, handler: (file: string) => Promise<T>): Promise<T> {
    await mkdir(this.o.partialDir, { recursive: true });
    const part = join(this.o.partialDir, `${createHash('sha256').update(url).digest('hex').slice(0, 32)}.part`);
    let have = (await stat(part).catch(() => undefined))?.size ?? 0;
    if (have > maxLength) {
      await rm(part, { force: true });
      have = 0;
    }
    if (have === maxLength) {
      // Complete before a crash removed it: TUF verifies it now (and it goes either way).
      try {
        return await handler(part);
      } finally {
        await rm(part, { force: true });
      }
    }
    const file = await open(part, have > 0 ? 'a' : 'w');
    let complete = false;
    const write = async (c: Uint8Array): Promise<void> => {
      await file.write(c);
    };
    try {
      try {
        await this.stream(url, have, maxLength, write);
      } catch (err) {
        if (!(err instanceof RangeIgnored)) throw err;
        // The server sent the whole file instead of the rest: start the file over.
        await file.truncate(0);
        await this.stream(url, 0, maxLength, async (c) => {
          await file.write(c);
        });
      }
      await file.sync();
      complete = true;
    } finally {
      await file.close();
    }
    try {
      return await handler(part);
    } finally {
      // Verified or refused, a complete file is not continued again.
      if (complete) await rm(part, { force: true });
    }
  }

  /** GETs `url` from byte `from` (a 200 to a Range request restarts at 0), feeding chunks until the end. */
  private async stream(url: string, from: number, maxLength: number, sink: (chunk: Uint8Array) => void | Promise<void>): Promise<void> {
    const abort = new AbortController();
    let idle = setTimeout(() => abort.abort(new Error(`no data for ${this.o.idleTimeoutMs} ms`)), this.o.idleTimeoutMs);
    const alive = (): void => {
      clearTimeout(idle);
      idle = setTimeout(() => abort.abort(new Error(`no data for ${this.o.idleTimeoutMs} ms`)), this.o.idleTimeoutMs);
    };
    try {
      const res = await fetch(url, { signal: abort.signal, headers: from > 0 ? { range: `bytes=${from}-` } : {} });
      // 416: the part on disk does not fit what the server has now: start over.
      if (res.status === 416 && from > 0) throw new RangeIgnored();
      if (!res.ok) throw new DownloadHTTPError(`Failed to download ${url}: HTTP ${res.status}`, res.status);
      let total = res.status === 206 ? from : 0;
      if (from > 0 && (res.status !== 206 || !(res.headers.get('content-range') ?? '').startsWith(`bytes ${from}-`))) throw new RangeIgnored();
      if (res.body === null) return;
      const reader = res.body.getReader();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return;
        alive();
        total += value.length;
        if (total > maxLength) {
          abort.abort();
          throw new DownloadLengthMismatchError(`Max length reached: ${url} is longer than the ${maxLength} bytes signed metadata allow`);
        }
        await sink(value);
      }
    } finally {
      clearTimeout(idle);
    }
  }
}
