import { open, readdir, readFile } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { DatasetError, type ProblemList } from './dataset-error.js';
import { decodeImage } from './decode-image.js';
import { HEADER_BYTES, readImageHeader } from './image-header.js';
import type { RgbImage } from './types.js';

/** The image files a dataset may hold (by extension when listing; the decoder goes by content). */
export const IMAGE_EXTENSIONS: ReadonlySet<string> = new Set(['.jpg', '.jpeg', '.png']);

export const isImageFile = (name: string): boolean => IMAGE_EXTENSIONS.has(extname(name).toLowerCase());

/** Hidden files and folders (.DS_Store, .git, ._x.jpg from macOS) are never data. */
export const isHidden = (name: string): boolean => name.startsWith('.');

/** Every image under `folder`, at any depth, sorted (so a dataset always lists in one order). */
export async function listImages(folder: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (dir: string): Promise<void> => {
    const entries = await readdir(dir, { withFileTypes: true });
    for (const e of entries) {
      if (isHidden(e.name)) continue;
      const path = join(dir, e.name);
      if (e.isDirectory()) await walk(path);
      else if (isImageFile(e.name)) out.push(path);
    }
  };
  await walk(folder);
  return out.sort();
}

/** Files read at once while checking headers: enough to hide disk latency, few enough to bound memory (8 x 256 KB). */
const CHECK_CONCURRENCY = 8;

/**
 * Checks that each file starts as a PNG or JPEG should (first HEADER_BYTES only: no pixels
 * decoded), adding a problem per file that does not. Stops reading once the problem list is full.
 */
export async function checkImageHeaders(files: readonly string[], problems: ProblemList): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    const head = new Uint8Array(HEADER_BYTES);
    while (next < files.length && !problems.full) {
      const file = files[next] as string;
      next += 1;
      let length: number;
      let size: number;
      try {
        const handle = await open(file, 'r');
        try {
          size = (await handle.stat()).size;
          ({ bytesRead: length } = await handle.read(head, 0, HEADER_BYTES, 0));
        } finally {
          await handle.close();
        }
      } catch (err) {
        problems.add(file, `cannot read the image: ${(err as Error).message}`);
        continue;
      }
      const header = readImageHeader(head.subarray(0, length), length >= size);
      if ('error' in header) problems.add(file, `image does not decode: ${header.error}`);
    }
  };
  await Promise.all(Array.from({ length: CHECK_CONCURRENCY }, worker));
}

/** Reads and decodes `file` when called (a DatasetError naming the file if it does not decode). */
export function imageLoader(file: string): () => Promise<RgbImage> {
  return async () => {
    let bytes: Uint8Array;
    try {
      bytes = await readFile(file);
    } catch (err) {
      throw DatasetError.at(file, `cannot read the image: ${(err as Error).message}`);
    }
    return decodeImage(bytes, file);
  };
}
