import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DatasetError } from '../../../models/datasets/dataset-error.js';
import { decodeImage } from '../../../models/datasets/decode-image.js';
import { encodeJpeg, encodePng } from '../../../models/datasets/encode-image.js';
import { HEADER_BYTES, readImageHeader } from '../../../models/datasets/image-header.js';
import { makeTempDir } from '../../support/temp-dir.js';
import { ffmpegPicture, ffmpegRgb, meanAbsDiff, run } from './image-tools.js';

let dir: { path: string; remove: () => Promise<void> };
beforeAll(async () => {
  dir = await makeTempDir('edgewise-decode-');
});
afterAll(async () => {
  await dir.remove();
});

const W = 96;
const H = 64;

describe('decodeImage', () => {
  // ffmpeg writes each PNG colour type and depth; its own decoder is the reference. Alpha is
  // dropped (as OpenCV does), 16 bits become 8 (pngjs rounds down where ffmpeg rounds: within 1).
  it.each([
    ['rgb24', 0],
    ['rgba', 0],
    ['gray', 0],
    ['ya8', 0],
    ['pal8', 0],
    ['monob', 0],
    ['rgb48be', 1],
    ['gray16be', 1],
    ['rgba64be', 1],
  ])('reads a %s PNG written by ffmpeg as ffmpeg reads it', (pixFmt, tolerance) => {
    const file = join(dir.path, `p-${pixFmt}.png`);
    ffmpegPicture(file, W, H, pixFmt);
    const image = decodeImage(readFileSync(file), file);
    expect([image.width, image.height]).toEqual([W, H]);
    const reference = ffmpegRgb(file);
    let worst = 0;
    for (let i = 0; i < reference.length; i += 1) worst = Math.max(worst, Math.abs((image.data[i] as number) - (reference[i] as number)));
    expect(worst).toBeLessThanOrEqual(tolerance);
  });

  it('reads baseline, progressive and grey JPEGs from libjpeg and ffmpeg close to ffmpeg own decoding', () => {
    const baseline = join(dir.path, 'baseline.jpg');
    ffmpegPicture(baseline, W, H);
    const progressive = join(dir.path, 'progressive.jpg');
    run('jpegtran', ['-progressive', '-outfile', progressive, baseline]);
    // A progressive file really is one: its frame header is SOF2.
    const bytes = readFileSync(progressive);
    expect(bytes.includes(Buffer.from([0xff, 0xc2]))).toBe(true);
    const pgm = join(dir.path, 'grey.pgm');
    ffmpegPicture(pgm, W, H, 'gray');
    const grey = join(dir.path, 'grey.jpg');
    run('cjpeg', ['-grayscale', '-outfile', grey, pgm]);
    for (const file of [baseline, progressive, grey]) {
      const image = decodeImage(readFileSync(file), file);
      expect([image.width, image.height]).toEqual([W, H]);
      // Two JPEG decoders differ by their IDCT and chroma upsampling, by a level or two on average.
      expect(meanAbsDiff(image.data, ffmpegRgb(file))).toBeLessThan(2.5);
    }
    const progressiveImage = decodeImage(bytes, progressive);
    expect(meanAbsDiff(progressiveImage.data, decodeImage(readFileSync(baseline), baseline).data)).toBeLessThan(0.5);
  });

  it('turns a JPEG as its EXIF orientation says (set by exiftool), so labels drawn on the shown image fit', () => {
    const plain = join(dir.path, 'plain.jpg');
    ffmpegPicture(plain, W, H);
    const upright = decodeImage(readFileSync(plain), plain);
    const at = (img: { width: number; data: Uint8Array }, x: number, y: number): number[] => Array.from(img.data.subarray((y * img.width + x) * 3, (y * img.width + x) * 3 + 3));
    for (const orientation of [3, 6, 8]) {
      const file = join(dir.path, `o${orientation}.jpg`);
      writeFileSync(file, readFileSync(plain));
      run('exiftool', ['-q', '-overwrite_original', `-Orientation=${orientation}`, '-n', file]);
      const shown = decodeImage(readFileSync(file), file);
      // 6: the stored top row is shown as the right column; 8: as the left column, bottom up; 3: turned 180.
      if (orientation === 3) {
        expect([shown.width, shown.height]).toEqual([W, H]);
        expect(at(shown, W - 1 - 10, H - 1 - 5)).toEqual(at(upright, 10, 5));
      } else {
        expect([shown.width, shown.height]).toEqual([H, W]);
        const [x, y] = orientation === 6 ? [H - 1 - 5, 10] : [5, W - 1 - 10];
        expect(at(shown, x, y)).toEqual(at(upright, 10, 5));
      }
    }
  });

  it('reads back what the simulator writes: PNG exactly, JPEG closely', () => {
    const image = { width: 37, height: 23, data: Uint8Array.from({ length: 37 * 23 * 3 }, (_, i) => (i * 7) % 251) };
    expect(decodeImage(encodePng(image), 'x.png')).toEqual(image);
    const smooth = { width: 40, height: 24, data: Uint8Array.from({ length: 40 * 24 * 3 }, (_, i) => 60 + (Math.floor(i / 3) % 40) * 3) };
    expect(meanAbsDiff(decodeImage(encodeJpeg(smooth, 95), 'x.jpg').data, smooth.data)).toBeLessThan(2);
  });

  it('names the file and says why when an image does not decode', () => {
    const jpg = join(dir.path, 'cut.jpg');
    ffmpegPicture(jpg, 320, 240);
    const whole = readFileSync(jpg);
    const cases: [string, Uint8Array, RegExp][] = [
      ['cut.jpg', whole.subarray(0, Math.floor(whole.length / 2)), /cut\.jpg: image does not decode: JPEG .*\(the file is cut short: \d+ bytes and no JPEG end marker; copy it again from its source\)$/],
      ['header-only.jpg', whole.subarray(0, 100), /header-only\.jpg: image does not decode: JPEG cut short before its frame header/],
      ['notes.png', new TextEncoder().encode('these are my notes'), /notes\.png: image does not decode: not a PNG or JPEG image/],
      ['empty.jpg', new Uint8Array(0), /empty\.jpg: image does not decode: empty file/],
    ];
    const png = encodePng({ width: 8, height: 8, data: new Uint8Array(192).fill(9) });
    const badCrc = Uint8Array.from(png);
    badCrc[40] = (badCrc[40] as number) ^ 0xff; // inside the IDAT data: its CRC no longer matches
    // Whole but corrupt: no word of a cut.
    cases.push(['crc.png', badCrc, /crc\.png: image does not decode: PNG (?!.*cut short)/]);
    cases.push(['cut.png', png.subarray(0, png.length - 20), /cut\.png: image does not decode: PNG .*\(the file is cut short: \d+ bytes and no PNG end marker/]);
    for (const [name, bytes, message] of cases) {
      let error: unknown;
      try {
        decodeImage(bytes, name);
      } catch (err) {
        error = err;
      }
      expect(error, name).toBeInstanceOf(DatasetError);
      expect((error as DatasetError).code).toBe('E_DATASET');
      expect((error as DatasetError).message).toMatch(message);
    }
  });

  it('never throws anything but a DatasetError, whatever the bytes (damaged real files included)', () => {
    const jpg = join(dir.path, 'fuzz.jpg');
    ffmpegPicture(jpg, 48, 32);
    const seeds = [new Uint8Array(readFileSync(jpg)), encodePng({ width: 16, height: 8, data: new Uint8Array(384).fill(77) })];
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 300 }),
          fc.tuple(fc.constantFrom(...seeds), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 8 }), fc.nat()).map(([s, edits, cut]) => {
            const b = Uint8Array.from(s);
            for (const [at, v] of edits) b[at % b.length] = v;
            return b.subarray(0, Math.max(1, b.length - (cut % b.length)));
          }),
        ),
        (bytes) => {
          try {
            const image = decodeImage(bytes, 'fuzz');
            expect(image.data.length).toBe(image.width * image.height * 3);
          } catch (err) {
            if (!(err instanceof DatasetError)) throw err;
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('passes a JPEG whose frame header lies past the bytes checked (a large ICC profile), and decodes it whole', () => {
    const jpg = encodeJpeg({ width: 24, height: 16, data: new Uint8Array(24 * 16 * 3).fill(120) });
    // Five APP2 segments of 64 KB (an embedded colour profile) between SOI and the rest.
    const app2 = new Uint8Array(4 + 65533);
    app2.set([0xff, 0xe2, 0xff, 0xff]);
    const big = new Uint8Array(2 + 5 * app2.length + jpg.length - 2);
    big.set(jpg.subarray(0, 2));
    for (let i = 0; i < 5; i += 1) big.set(app2, 2 + i * app2.length);
    big.set(jpg.subarray(2), 2 + 5 * app2.length);
    expect(readImageHeader(big.subarray(0, HEADER_BYTES), false)).toEqual({ format: 'jpeg', width: 0, height: 0 });
    expect(readImageHeader(big, true)).toEqual({ format: 'jpeg', width: 24, height: 16 });
    const image = decodeImage(big, 'icc.jpg');
    expect([image.width, image.height]).toEqual([24, 16]);
  });

  it('reads the size from the header alone, and refuses a size past the bound', () => {
    const jpg = join(dir.path, 'size.jpg');
    ffmpegPicture(jpg, 200, 120);
    expect(readImageHeader(readFileSync(jpg), true)).toEqual({ format: 'jpeg', width: 200, height: 120 });
    const png = Uint8Array.from(encodePng({ width: 3, height: 2, data: new Uint8Array(18) }));
    expect(readImageHeader(png, true)).toEqual({ format: 'png', width: 3, height: 2 });
    new DataView(png.buffer).setUint32(16, 100_000); // width 100,000 x 2 is fine, x 1000 is not
    new DataView(png.buffer).setUint32(20, 1000);
    expect(readImageHeader(png, true)).toEqual({ error: '100000x1000 is larger than 50 megapixels' });
  });
});
