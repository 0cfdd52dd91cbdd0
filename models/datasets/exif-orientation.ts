import type { RgbImage } from './types.js';

/**
 * EXIF orientation: phones and many inspection cameras store the sensor's pixels as they came
 * and say in EXIF how to turn them for display. Labelling tools show (and so label) the turned
 * image, and OpenCV and PIL-based trainers turn it too; reading it unturned would put every box
 * in the wrong place. Only tag 0x0112 of IFD0 is read: jpeg-js already hands over the APP1
 * segment, so this is a short walk over a TIFF header rather than a second parse of the file
 * by an EXIF library.
 */
export type Orientation = 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8;

const ORIENTATION_TAG = 0x0112;

/**
 * The orientation in an EXIF segment (what follows `Exif\0`, with or without the second
 * padding byte), 1 (as stored) when absent or unreadable: a broken EXIF never stops an image.
 */
export function exifOrientation(exif: Uint8Array | undefined): Orientation {
  if (exif === undefined) return 1;
  // jpeg-js keeps one of the two padding zeros after "Exif"; other writers keep none.
  let t = 0;
  while (t < 2 && exif[t] === 0) t += 1;
  if (t + 8 > exif.length) return 1;
  const little = exif[t] === 0x49 && exif[t + 1] === 0x49; // "II"
  const big = exif[t] === 0x4d && exif[t + 1] === 0x4d; // "MM"
  if (!little && !big) return 1;
  const view = new DataView(exif.buffer, exif.byteOffset + t, exif.length - t);
  if (view.getUint16(2, little) !== 42) return 1;
  const ifd = view.getUint32(4, little);
  if (ifd + 2 > view.byteLength) return 1;
  const entries = view.getUint16(ifd, little);
  for (let i = 0; i < entries; i += 1) {
    const at = ifd + 2 + i * 12;
    if (at + 12 > view.byteLength) return 1;
    if (view.getUint16(at, little) !== ORIENTATION_TAG) continue;
    const value = view.getUint16(at + 8, little); // a SHORT sits in the first two bytes of the value field
    return value >= 1 && value <= 8 ? (value as Orientation) : 1;
  }
  return 1;
}

/** The image as it is meant to be seen: `orientation` applied (5 to 8 swap width and height). */
export function applyOrientation(image: RgbImage, orientation: Orientation): RgbImage {
  if (orientation === 1) return image;
  const { width: W, height: H, data } = image;
  const swap = orientation >= 5;
  const width = swap ? H : W;
  const height = swap ? W : H;
  const out = new Uint8Array(width * height * 3);
  // For each displayed pixel (x, y): the stored pixel it shows.
  const source = SOURCE[orientation];
  for (let y = 0; y < height; y += 1) {
    for (let x = 0; x < width; x += 1) {
      const [sx, sy] = source(x, y, W, H);
      const s = (sy * W + sx) * 3;
      const d = (y * width + x) * 3;
      out[d] = data[s] as number;
      out[d + 1] = data[s + 1] as number;
      out[d + 2] = data[s + 2] as number;
    }
  }
  return { width, height, data: out };
}

type SourceOf = (x: number, y: number, W: number, H: number) => readonly [number, number];

const SOURCE: Record<Orientation, SourceOf> = {
  1: (x, y) => [x, y],
  2: (x, y, W) => [W - 1 - x, y], // mirrored left-right
  3: (x, y, W, H) => [W - 1 - x, H - 1 - y], // turned 180
  4: (x, y, _W, H) => [x, H - 1 - y], // mirrored top-bottom
  5: (x, y) => [y, x], // transposed
  6: (x, y, _W, H) => [y, H - 1 - x], // stored turned 90 anticlockwise: shown turned 90 clockwise
  7: (x, y, W, H) => [W - 1 - y, H - 1 - x], // transversed
  8: (x, y, W) => [W - 1 - y, x], // stored turned 90 clockwise: shown turned 90 anticlockwise
};
