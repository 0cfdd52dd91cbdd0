import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Fetcher } from 'tuf-js';

class RangeIgnored extends Error {}

/** Network chunks waiting for the disk: past this many bytes, reading waits for the write. */
const MAX_UNWRITTEN_BYTES = 4 * 1024 * 1024;
/** At most this many chunks per write call (Linux's IOV_MAX is 1024). */
const MAX_CHUNKS_PER_WRITE = 256;

/**
 * Writes a download's chunks to its file behind the network: whatever arrived while the last
 * write ran goes out in one `pwritev`, so a 5 MiB model costs a few dozen write calls instead
 * of one per network chunk (hundreds, each a promise and a thread-pool round trip). At most
 * MAX_UNWRITTEN_BYTES wait in memory; a write error (a full disk) fails the next push or the
 * flush, and a short write is an error, never a hole.
 */
class WriteBehind {
  private queued: Uint8Array[] = [];
  private queuedBytes = 0;
  private writing: Promise<void> | undefined;
  private failure: Error | undefined;

  constructor(private readonly file: FileHandle) {}

  async push(chunk: Uint8Array): Promise<void> {
    if (this.failure !== undefined) throw this.failure;
    this.queued.push(chunk);
    this.queuedBytes += chunk.length;
    this.writing ??= this.drain();
    if (this.queuedBytes >= MAX_UNWRITTEN_BYTES) await this.writing;
  }

  /** Every pushed byte is in the file (or the write's error is thrown). */
  async flush(): Promise<void> {
    while (this.writing !== undefined) await this.writing;
    if (this.failure !== undefined) throw this.failure;
  }

  private async drain(): Promise<void> {
    try {
      while (this.queued.length > 0 && this.failure === undefined) {
        const batch = this.queued.splice(0, MAX_CHUNKS_PER_WRITE);
        const bytes = batch.reduce((n, c) => n + c.length, 0);
        this.queuedBytes -= bytes;
        const { bytesWritten } = await this.file.writev(batch);
        if (bytesWritten !== bytes) throw new Error(`short write: ${bytesWritten} of ${bytes} bytes (is the disk full?)`);
      }
    } catch (err) {
      this.failure = err instanceof Error ? err : new Error(String(err));
    } finally {
      this.writing = undefined;
    }
  }
}

// The fetcher's errors, one class per reason (trust.ts's classify maps each to an E_TRUST_ code).
// tuf-js exports no error classes, so the fetcher throws its own; TufUpdater teaches tuf-js's
// root rotation that a DownloadHttpError 403/404 means "no newer root".

/** The server was not reached, answered with an error status, or went silent (E_TRUST_FETCH). */
export class DownloadError extends Error {
  override readonly name: string = 'DownloadError';
}

/** A request that failed on the network (refused, cut, or silent past the idle timeout), as a DownloadError. */
function unreachable(url: string, err: unknown): DownloadError {
  const reason = err instanceof Error ? `${err.message}${err.cause instanceof Error ? ` (${err.cause.message})` : ''}` : String(err);
  return new DownloadError(`Failed to download ${url}: ${reason}`, { cause: err });
}

/** The server answered with an error status (E_TRUST_FETCH). */
export class DownloadHttpError extends DownloadError {
  override readonly name = 'DownloadHttpError';
  constructor(
    message: string,
    readonly statusCode: number,
  ) {
    super(message);
  }
}

/** A response longer than the length signed metadata allows: reading stopped there (E_TRUST_LENGTH). */
export class DownloadTooLongError extends Error {
  override readonly name = 'DownloadTooLongError';
}

/** A downloaded target whose length is not the signed one (E_TRUST_LENGTH). */
export class TargetLengthError extends Error {
  override readonly name = 'TargetLengthError';
}

/** A downloaded target whose hash is not the signed one, or signed with a hash we cannot compute (E_TRUST_HASH). */
export class TargetHashError extends Error {
  override readonly name = 'TargetHashError';
}

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

  async downloadFile<T>(
    url: string,
    maxLength: number,
    handler: (file: string) => Promise<T>,
    /** Sees every byte of the file, in order: first told the part's path and how much of it exists. */
    observe?: (file: string, have: number) => Promise<(chunk: Uint8Array) => void>,
    /** The file started over (the server ignored a Range request). */
    restarted?: () => void,
    /** The handler takes the part over (renames or removes it): it is not removed here. */
    handOver = false,
  ): Promise<T> {
    await mkdir(this.o.partialDir, { recursive: true });
    const part = join(this.o.partialDir, `${createHash('sha256').update(url).digest('hex').slice(0, 32)}.part`);
    let have = (await stat(part).catch(() => undefined))?.size ?? 0;
    if (have > maxLength) {
      await rm(part, { force: true });
      have = 0;
    }
    const see = observe === undefined ? undefined : await observe(part, have);
    if (have === maxLength) {
      // Complete before a crash removed it: TUF verifies it now (and it goes either way).
      try {
        return await handler(part);
      } finally {
        if (!handOver) await rm(part, { force: true });
      }
    }
    const file = await open(part, have > 0 ? 'a' : 'w');
    let complete = false;
    const writer = new WriteBehind(file);
    const write = (c: Uint8Array): Promise<void> => {
      see?.(c);
      return writer.push(c);
    };
    try {
      try {
        await this.stream(url, have, maxLength, write);
      } catch (err) {
        if (!(err instanceof RangeIgnored)) throw err;
        // The server sent the whole file instead of the rest: start the file over.
        await writer.flush();
        await file.truncate(0);
        restarted?.();
        await this.stream(url, 0, maxLength, write);
      }
      await writer.flush();
      await file.sync();
      complete = true;
    } finally {
      // A cut connection keeps what arrived (the next attempt resumes after it); no write may outlive the handle.
      await writer.flush().catch(() => undefined);
      await file.close();
    }
    try {
      return await handler(part);
    } finally {
      // Verified or refused, a complete file is not continued again.
      if (complete && !handOver) await rm(part, { force: true });
    }
  }

  /**
   * Downloads a target to `dest`, verified against its signed length and every signed hash
   * while it streams to disk (a resumed part is hashed from disk first), then renamed into
   * place: one write and no read-back or copy, where tuf-js's own download writes the file,
   * reads it back to verify, and copies it synchronously (blocking the event loop for the
   * length of a model). A file that fails verification is deleted, never renamed.
   */
  async downloadVerified(url: string, length: number, hashes: Readonly<Record<string, string>>, dest: string): Promise<void> {
    const digests = (): [string, Hash][] =>
      Object.keys(hashes).map((alg) => {
        try {
          return [alg, createHash(alg)];
        } catch {
          throw new TargetHashError(`Hash algorithm ${alg} not supported`);
        }
      });
    let hashers = digests();
    let seen = 0;
    const take = (c: Uint8Array): void => {
      seen += c.length;
      for (const [, h] of hashers) h.update(c);
    };
    const part = await this.downloadFile(url, length, async (file) => file, async (file, have) => {
      // The part from an earlier attempt counts: hash it as it is on disk.
      if (have > 0) for await (const c of createReadStream(file)) take(c as Buffer);
      return take;
    }, () => {
      // The server ignored the Range request: the file starts over, and so do the hashes.
      hashers = digests();
      seen = 0;
    }, true);
    try {
      if (seen !== length) throw new TargetLengthError(`Expected length ${length} but got ${seen}`);
      // What was hashed is what arrived; the file must hold all of it (a short write on a full disk would not).
      const onDisk = (await stat(part)).size;
      if (onDisk !== length) throw new TargetLengthError(`Expected length ${length} but the file on disk has ${onDisk}`);
      for (const [alg, h] of hashers) {
        const observed = h.digest('hex');
        if (observed !== hashes[alg]) throw new TargetHashError(`Expected hash ${String(hashes[alg])} but got ${observed}`);
      }
      await mkdir(dirname(dest), { recursive: true });
      await rename(part, dest);
    } finally {
      await rm(part, { force: true });
    }
  }

  /** GETs `url` from byte `from` (a 200 to a Range request restarts at 0), feeding chunks until the end. */
  private async stream(url: string, from: number, maxLength: number, sink: (chunk: Uint8Array) => void | Promise<void>): Promise<void> {
    const abort = new AbortController();
    const idle = setTimeout(() => abort.abort(new Error(`no data for ${this.o.idleTimeoutMs} ms`)), this.o.idleTimeoutMs);
    // Restarted on every chunk; refresh() re-arms the same timer instead of making a new one.
    const alive = (): void => {
      idle.refresh();
    };
    try {
      const res = await fetch(url, { signal: abort.signal, headers: from > 0 ? { range: `bytes=${from}-` } : {} }).catch((err: unknown) => {
        throw unreachable(url, err);
      });
      // 416: the part on disk does not fit what the server has now: start over.
      if (res.status === 416 && from > 0) throw new RangeIgnored();
      if (!res.ok) throw new DownloadHttpError(`Failed to download ${url}: HTTP ${res.status}`, res.status);
      let total = res.status === 206 ? from : 0;
      if (from > 0 && (res.status !== 206 || !(res.headers.get('content-range') ?? '').startsWith(`bytes ${from}-`))) throw new RangeIgnored();
      if (res.body === null) return;
      const reader = res.body.getReader();
      for (;;) {
        const { done, value } = await reader.read().catch((err: unknown) => {
          throw unreachable(url, err);
        });
        if (done) return;
        alive();
        total += value.length;
        if (total > maxLength) {
          abort.abort();
          throw new DownloadTooLongError(`Max length reached: ${url} is longer than the ${maxLength} bytes signed metadata allow`);
        }
        await sink(value);
      }
    } finally {
      clearTimeout(idle);
    }
  }
}
