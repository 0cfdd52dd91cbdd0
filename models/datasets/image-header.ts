/**
 * What kind of image a file is and how large, from its first bytes: the dataset readers check
 * every image this way when they list a dataset (cheap: no pixels decoded), so a file that is
 * not an image at all, or a JPEG cut before its frame header, is reported with the rest of the
 * dataset's problems before training starts rather than in the middle of epoch 3.
 */
export type ImageFormat = 'png' | 'jpeg';

export interface ImageHeader {
  readonly format: ImageFormat;
  readonly width: number;
  readonly height: number;
}

/** Images larger than this are refused (decoded, 50 MP is 150 MB of RGB: a bound, not a taste). */
export const MAX_IMAGE_PIXELS = 50_000_000;

/** Bytes the readers read of each file to check it: a JPEG's frame header follows its EXIF (<= 64 KB) and ICC segments. */
export const HEADER_BYTES = 256 * 1024;

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

/** The format by the file's signature (never by its extension: a .jpg that is a PNG is read as a PNG). */
export function sniffImageFormat(bytes: Uint8Array): ImageFormat | undefined {
  if (PNG_SIGNATURE.every((b, i) => bytes[i] === b)) return 'png';
  if (bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'jpeg';
  return undefined;
}

/**
 * The header of an image, or why it is not one. `head` may be the file's first HEADER_BYTES
 * only; `complete` says whether it is the whole file (a JPEG whose frame header lies past a
 * partial head is given the benefit of the doubt: its size is then unknown, 0 x 0).
 */
export function readImageHeader(head: Uint8Array, complete: boolean): ImageHeader | { readonly error: string } {
  const format = sniffImageFormat(head);
  if (format === undefined) return { error: head.length === 0 ? 'empty file, not an image' : 'not a PNG or JPEG image (its first bytes are neither signature)' };
  const size = format === 'png' ? pngSize(head) : jpegSize(head, complete);
  if ('error' in size) return size;
  if (size.width * size.height > MAX_IMAGE_PIXELS) return { error: `${size.width}x${size.height} is larger than ${MAX_IMAGE_PIXELS / 1e6} megapixels` };
  return { format, ...size };
}

function pngSize(b: Uint8Array): { width: number; height: number } | { error: string } {
  // Signature (8), then the IHDR chunk: length (4), "IHDR", width (4), height (4).
  if (b.length < 24) return { error: 'PNG cut short before its header' };
  const view = new DataView(b.buffer, b.byteOffset, b.length);
  if (view.getUint32(12) !== 0x49484452) return { error: 'PNG without an IHDR header chunk first' };
  const width = view.getUint32(16);
  const height = view.getUint32(20);
  if (width === 0 || height === 0) return { error: `PNG of ${width}x${height} pixels` };
  return { width, height };
}

/** Start-of-frame markers: SOF0..SOF15 but DHT (C4), JPG (C8) and DAC (CC). */
const isSof = (m: number): boolean => m >= 0xc0 && m <= 0xcf && m !== 0xc4 && m !== 0xc8 && m !== 0xcc;

function jpegSize(b: Uint8Array, complete: boolean): { width: number; height: number } | { error: string } {
  let at = 2;
  for (;;) {
    // Fill bytes (0xFF runs) may precede a marker.
    while (at < b.length && b[at] === 0xff && b[at + 1] === 0xff) at += 1;
    if (at + 4 > b.length) break;
    if (b[at] !== 0xff) return { error: `JPEG broken: no marker at byte ${at}` };
    const marker = b[at + 1] as number;
    if (marker === 0xd9 || marker === 0xda) return { error: 'JPEG without a frame header before its image data' };
    const length = ((b[at + 2] as number) << 8) | (b[at + 3] as number);
    if (length < 2) return { error: `JPEG broken: segment of length ${length} at byte ${at}` };
    if (isSof(marker)) {
      if (at + 9 > b.length) break;
      const height = ((b[at + 5] as number) << 8) | (b[at + 6] as number);
      const width = ((b[at + 7] as number) << 8) | (b[at + 8] as number);
      if (width === 0 || height === 0) return { error: `JPEG of ${width}x${height} pixels` };
      return { width, height };
    }
    at += 2 + length;
  }
  return complete ? { error: 'JPEG cut short before its frame header' } : { width: 0, height: 0 };
}
