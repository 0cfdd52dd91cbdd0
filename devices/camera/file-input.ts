import { open, type FileHandle } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Backoff } from '../../runtime/uplink/backoff.js';
import type { InputEvent, InputStatus } from './byte-input.js';
import { CameraFormatError, isMp4 } from './stream-format.js';

/**
 * A camera file: a raw H.264 Annex B file read in pieces, or an MP4 (told by its content,
 * an `ftyp` box, whatever its name) demuxed into access units (`mp4-input.ts`, loaded only
 * when an MP4 comes). With `loop` it starts over at the end. A file that cannot be opened or
 * read is retried with backoff (it may appear later); one that is not H.264 is not: the
 * same bytes would fail the same way, so the `CameraFormatError` ends the input.
 */

const READ_BYTES = 64 * 1024;

export async function* fileInput(path: string, loop: boolean, backoff: Backoff, status: InputStatus, signal: AbortSignal): AsyncGenerator<InputEvent> {
  while (!signal.aborted) {
    let events = 0;
    try {
      const handle = await open(path, 'r');
      try {
        status.connected = true;
        const size = (await handle.stat()).size;
        const head = new Uint8Array(Math.min(16, size));
        await handle.read(head, 0, head.length, 0);
        if (isMp4(head)) {
          status.container = 'mp4';
          const { mp4AccessUnits } = await import('./mp4-input.js');
          const file = { size, read: async (into: Uint8Array, position: number) => (await handle.read(into, 0, into.length, position)).bytesRead };
          for await (const unit of mp4AccessUnits(file, `file ${path}`, signal)) {
            events += 1;
            yield { kind: 'unit', ...unit };
          }
        } else {
          status.container = 'annexb';
          yield* readRaw(handle, signal, () => (events += 1));
        }
      } finally {
        await handle.close();
      }
      if (signal.aborted) return;
      yield { kind: 'end' };
      if (!loop) return;
      // Looping an empty file would spin: treat it as a failure and back off.
      if (events === 0) throw new Error(`${path} has no picture`);
      backoff.reset();
      continue;
    } catch (err) {
      if (signal.aborted) return;
      if (err instanceof CameraFormatError) throw err;
      status.lastError = `file ${path}: ${(err as Error).message}`;
      status.onError?.(status.lastError);
    } finally {
      status.connected = false;
    }
    yield { kind: 'break' };
    await sleep(backoff.next(), undefined, { signal }).catch(() => undefined);
    if (!signal.aborted) status.reconnects += 1;
  }
}

async function* readRaw(handle: FileHandle, signal: AbortSignal, counted: () => void): AsyncGenerator<InputEvent> {
  for (let pos = 0; !signal.aborted; ) {
    // A fresh buffer per piece: the consumer may hold on to it.
    const piece = new Uint8Array(READ_BYTES);
    const { bytesRead } = await handle.read(piece, 0, READ_BYTES, pos);
    if (bytesRead === 0) return;
    pos += bytesRead;
    counted();
    yield { kind: 'data', bytes: piece.subarray(0, bytesRead) };
  }
}
