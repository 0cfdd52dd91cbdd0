import jpeg from 'jpeg-js';
import pngjs from 'pngjs';
import type { RgbImage } from './types.js';

/**
 * RGB images to files, with the same pure-JS libraries that read them: the simulator writes its
 * datasets as a user would have them, and the evaluation report shows its gallery.
 */
export function encodePng(image: RgbImage): Uint8Array {
  const png = new pngjs.PNG({ width: image.width, height: image.height, colorType: 2, inputColorType: 2, inputHasAlpha: false });
  png.data = Buffer.from(image.data.buffer, image.data.byteOffset, image.data.length);
  return pngjs.PNG.sync.write(png, { colorType: 2, inputColorType: 2, inputHasAlpha: false });
}

/** Baseline JPEG, 4:2:0, `quality` 1..100. */
export function encodeJpeg(image: RgbImage, quality = 90): Uint8Array {
  const rgba = new Uint8Array(image.width * image.height * 4);
  for (let i = 0, n = image.width * image.height; i < n; i += 1) {
    rgba[i * 4] = image.data[i * 3] as number;
    rgba[i * 4 + 1] = image.data[i * 3 + 1] as number;
    rgba[i * 4 + 2] = image.data[i * 3 + 2] as number;
    rgba[i * 4 + 3] = 255;
  }
  return jpeg.encode({ width: image.width, height: image.height, data: rgba }, quality).data;
}
