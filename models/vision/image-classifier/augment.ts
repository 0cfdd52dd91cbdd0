/**
 * Training-time variations of one input image, so a few hundred photos teach what a plant's
 * camera will really see: the part mirrored, a little off centre, under a brighter or dimmer
 * and slightly tinted lamp. Defaults follow Ultralytics' classification training (fliplr 0.5,
 * flipud 0, translate 0.1, hsv_v 0.4) scaled down for tiny datasets. Deterministic from the
 * `random` it is handed.
 */
export interface AugmentOptions {
  /** Mirror left-right with probability 0.5. */
  readonly flipX: boolean;
  /** Mirror top-bottom with probability 0.5 (off by default: a label or an arrow on a part has an up). */
  readonly flipY: boolean;
  /** Largest shift, as a share of the input side, each way. */
  readonly shift: number;
  /** Largest brightness change, as a share: a gain in 1 ± brightness. */
  readonly brightness: number;
  /** Largest colour cast per channel, as a share (a warmer or cooler lamp). */
  readonly tint: number;
}

export const DEFAULT_AUGMENT: AugmentOptions = { flipX: true, flipY: false, shift: 0.1, brightness: 0.25, tint: 0.05 };

/** Where the picture lies in the letterboxed input; the rest is padding, which the gateway always fills with the same grey. */
export interface InnerRect {
  readonly x: number;
  readonly y: number;
  readonly w: number;
  readonly h: number;
}

/** YOLO's letterbox grey, the value preprocess.ts pads with. */
export const PAD = 114;

/**
 * One variation of `src` (planar RGB, `size` x `size`, 0..255) written to `out` as 0..1
 * float32 at `offset`: brightness and tint on the picture (not the padding), then mirror and
 * shift of the whole input, padding where the shift uncovers.
 */
export function augmentInto(src: Uint8Array, size: number, inner: InnerRect, o: AugmentOptions, random: () => number, out: Float32Array, offset: number): void {
  const plane = size * size;
  const flipX = o.flipX && random() < 0.5;
  const flipY = o.flipY && random() < 0.5;
  const reach = Math.round(o.shift * size);
  const dx = Math.round((random() * 2 - 1) * reach);
  const dy = Math.round((random() * 2 - 1) * reach);
  const gain = 1 + (random() * 2 - 1) * o.brightness;
  const tints = [0, 1, 2].map(() => 1 + (random() * 2 - 1) * o.tint);
  for (let c = 0; c < 3; c += 1) {
    const g = gain * (tints[c] as number);
    for (let y = 0; y < size; y += 1) {
      // The source pixel this output pixel shows: shifted, then mirrored.
      const sy0 = y - dy;
      const sy = flipY ? size - 1 - sy0 : sy0;
      for (let x = 0; x < size; x += 1) {
        const sx0 = x - dx;
        const sx = flipX ? size - 1 - sx0 : sx0;
        let v = PAD;
        if (sx >= 0 && sx < size && sy >= 0 && sy < size) {
          v = src[c * plane + sy * size + sx] as number;
          if (sx >= inner.x && sx < inner.x + inner.w && sy >= inner.y && sy < inner.y + inner.h) v = Math.min(255, v * g);
        }
        out[offset + c * plane + y * size + x] = v / 255;
      }
    }
  }
}

/** `src` as it is, 0..1 float32 at `offset` (validation, feature statistics). */
export function plainInto(src: Uint8Array, out: Float32Array, offset: number): void {
  for (let i = 0; i < src.length; i += 1) out[offset + i] = (src[i] as number) / 255;
}
