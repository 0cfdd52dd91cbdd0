import jpeg from 'jpeg-js';
import pngjs from 'pngjs';
import { DatasetError } from './dataset-error.js';
import { applyOrientation, exifOrientation } from './exif-orientation.js';
import { MAX_IMAGE_PIXELS, readImageHeader } from './image-header.js';
import type { RgbImage } from './types.js';

/**
 * A PNG or JPEG file's bytes to RGB, 8 bits a channel, as a labelling tool showed it:
 * - PNG (pngjs): grey, grey+alpha, RGB, RGBA, palette, 1 to 16 bits (16-bit scaled to 8);
 *   alpha is dropped, as OpenCV's imread does for the YOLO trainers people compare with.
 * - JPEG (jpeg-js): baseline and progressive, grey, YCbCr, CMYK/YCCK; the EXIF orientation applied.
 * The format is told by the signature, not the extension. Anything unreadable is a DatasetError
 * naming `file`. Both decoders are pure JavaScript: see README.md for why not sharp.
 */
export function decodeImage(bytes: Uint8Array, file: string): RgbImage {
  const header = readImageHeader(bytes, true);
  if ('error' in header) throw DatasetError.at(file, `image does not decode: ${header.error}`);
  try {
    return header.format === 'png' ? decodePng(bytes) : decodeJpeg(bytes);
  } catch (err) {
    const format = header.format === 'png' ? 'PNG' : 'JPEG';
    // The decoders' words for a file that stops early are cryptic ("marker was not found", "read requests waiting on finished stream").
    const cut = endsEarly(bytes, header.format) ? ` (the file is cut short: ${bytes.length} bytes and no ${format} end marker; copy it again from its source)` : '';
    throw DatasetError.at(file, `image does not decode: ${format} ${(err as Error).message}${cut}`);
  }
}

/** No end marker where a whole file has one: PNG's IEND chunk last, JPEG's EOI (FF D9) near the end (cameras may pad after it). */
function endsEarly(bytes: Uint8Array, format: 'png' | 'jpeg'): boolean {
  if (format === 'png') return bytes.length < 12 || String.fromCharCode(...bytes.subarray(bytes.length - 8, bytes.length - 4)) !== 'IEND';
  for (let i = bytes.length - 2; i >= Math.max(0, bytes.length - 4096); i -= 1) if (bytes[i] === 0xff && bytes[i + 1] === 0xd9) return false;
  return true;
}

function decodePng(bytes: Uint8Array): RgbImage {
  const png = pngjs.PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length));
  const { width, height } = png;
  const rgba = png.data;
  const data = new Uint8Array(width * height * 3);
  for (let i = 0, j = 0, n = width * height; i < n; i += 1, j += 4) {
    data[i * 3] = rgba[j] as number;
    data[i * 3 + 1] = rgba[j + 1] as number;
    data[i * 3 + 2] = rgba[j + 2] as number;
  }
  return { width, height, data };
}

function decodeJpeg(bytes: Uint8Array): RgbImage {
  const image = jpeg.decode(bytes, {
    useTArray: true,
    formatAsRGBA: false,
    // A file truncated mid-scan is an error here, not a grey lower half the trainer learns from.
    tolerantDecoding: false,
    maxResolutionInMP: MAX_IMAGE_PIXELS / 1e6,
    maxMemoryUsageInMB: 1024,
  }) as { width: number; height: number; data: Uint8Array; exifBuffer?: Uint8Array };
  if (image.data.length !== image.width * image.height * 3) throw new Error(`decoded to ${image.data.length} bytes for ${image.width}x${image.height}`);
  return applyOrientation({ width: image.width, height: image.height, data: image.data }, exifOrientation(image.exifBuffer));
}
