import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { applyOrientation, exifOrientation, type Orientation } from '../../../models/datasets/exif-orientation.js';

/** An EXIF block (TIFF, after "Exif\0") with IFD0 holding `entries` tag/value pairs (SHORTs). */
function exif(little: boolean, entries: readonly [number, number][], pad = 1): Uint8Array {
  const b = new Uint8Array(pad + 8 + 2 + entries.length * 12 + 4);
  const v = new DataView(b.buffer, pad);
  v.setUint8(0, little ? 0x49 : 0x4d);
  v.setUint8(1, little ? 0x49 : 0x4d);
  v.setUint16(2, 42, little);
  v.setUint32(4, 8, little);
  v.setUint16(8, entries.length, little);
  entries.forEach(([tag, value], i) => {
    v.setUint16(10 + i * 12, tag, little);
    v.setUint16(12 + i * 12, 3, little); // SHORT
    v.setUint32(14 + i * 12, 1, little);
    v.setUint16(18 + i * 12, value, little);
  });
  return b;
}

describe('EXIF orientation', () => {
  it('reads tag 0x0112 from IFD0 in either byte order, with or without the padding byte', () => {
    expect(exifOrientation(exif(true, [[0x010f, 7], [0x0112, 6]]))).toBe(6);
    expect(exifOrientation(exif(false, [[0x0112, 8]], 0))).toBe(8);
    expect(exifOrientation(exif(true, [[0x010f, 3]]))).toBe(1);
    expect(exifOrientation(exif(true, [[0x0112, 9]]))).toBe(1);
    expect(exifOrientation(undefined)).toBe(1);
  });

  it('never throws on a broken EXIF block: the image is then shown as stored', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 80 }), (b) => {
        expect(exifOrientation(b)).toBeGreaterThanOrEqual(1);
      }));
  });

  // The EXIF specification's table: where the stored image's row 0 and column 0 are shown.
  const SHOWN: Record<Orientation, { row0: string; col0: string }> = {
    1: { row0: 'top', col0: 'left' },
    2: { row0: 'top', col0: 'right' },
    3: { row0: 'bottom', col0: 'right' },
    4: { row0: 'bottom', col0: 'left' },
    5: { row0: 'left', col0: 'top' },
    6: { row0: 'right', col0: 'top' },
    7: { row0: 'right', col0: 'bottom' },
    8: { row0: 'left', col0: 'bottom' },
  };

  it.each([1, 2, 3, 4, 5, 6, 7, 8] as Orientation[])('orientation %i puts the stored row 0 and column 0 where the EXIF table says', (o) => {
    const W = 5;
    const H = 3;
    // Stored pixel (x, y) carries x in red and y in green.
    const data = new Uint8Array(W * H * 3);
    for (let y = 0; y < H; y += 1) for (let x = 0; x < W; x += 1) data.set([x, y, 0], (y * W + x) * 3);
    const shown = applyOrientation({ width: W, height: H, data }, o);
    const px = (x: number, y: number): [number, number] => [shown.data[(y * shown.width + x) * 3] as number, shown.data[(y * shown.width + x) * 3 + 1] as number];
    const edge = (side: string): [number, number][] => {
      const n = side === 'top' || side === 'bottom' ? shown.width : shown.height;
      return Array.from({ length: n }, (_, i) => (side === 'top' ? px(i, 0) : side === 'bottom' ? px(i, shown.height - 1) : side === 'left' ? px(0, i) : px(shown.width - 1, i)));
    };
    // Row 0 (stored y = 0) fills the named side, and column 0 (stored x = 0) the other.
    expect(edge(SHOWN[o].row0).every(([, y]) => y === 0)).toBe(true);
    expect(edge(SHOWN[o].col0).every(([x]) => x === 0)).toBe(true);
    expect(shown.width * shown.height).toBe(W * H);
  });
});
