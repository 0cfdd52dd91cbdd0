import type { LoadedModel } from '../../engine/engine.js';
import { seededRandom } from '../../train/random.js';
import { augmentInto, plainInto, type AugmentOptions } from './augment.js';
import { FRONT_END_INPUT, FRONT_END_OUTPUT } from './front-end.js';
import type { InputImages } from './input-images.js';

/** One augmented variation of one training image: view 0 is the image as it is. */
export interface ViewKey {
  readonly image: number;
  readonly view: number;
}

/** Front-end runs take this many images at a time. */
const RUN_BATCH = 64;

/**
 * The front end's features of the training images' views (augmented variations). Running the
 * fixed front end is most of a training's cost, and its output for a view never changes, so
 * each image has a fixed number of views, each made from its own seed (seed, image, view),
 * whose features are computed once and kept, up to `budgetBytes` (7.6 KiB a view at the
 * default input: 256 MiB hold 34,000); views past the budget are computed again when needed.
 * A resumed training therefore sees the very views the first one saw.
 */
export class FeatureViews {
  private readonly kept = new Map<string, Float32Array>();
  private keptBytes = 0;

  constructor(
    private readonly front: LoadedModel,
    private readonly images: InputImages,
    readonly features: number,
    private readonly augment: AugmentOptions,
    private readonly seed: number,
    private readonly budgetBytes: number,
  ) {}

  /** Raw features of `keys`, row after row. */
  async rows(keys: readonly ViewKey[]): Promise<Float32Array> {
    const F = this.features;
    const out = new Float32Array(keys.length * F);
    const missing: number[] = [];
    keys.forEach((k, r) => {
      const hit = this.kept.get(`${k.image}:${k.view}`);
      if (hit === undefined) missing.push(r);
      else out.set(hit, r * F);
    });
    const s = this.images.size;
    const values = 3 * s * s;
    for (let start = 0; start < missing.length; start += RUN_BATCH) {
      const batch = missing.slice(start, start + RUN_BATCH);
      const input = new Float32Array(batch.length * values);
      for (let b = 0; b < batch.length; b += 1) {
        const key = keys[batch[b] as number] as ViewKey;
        const img = await this.images.get(key.image);
        if (key.view === 0) plainInto(img.pixels, input, b * values);
        else augmentInto(img.pixels, s, img.inner, this.augment, seededRandom(viewSeed(this.seed, key)), input, b * values);
      }
      const result = (await this.front.run({ [FRONT_END_INPUT]: { data: input, dims: [batch.length, 3, s, s] } }))[FRONT_END_OUTPUT];
      if (result === undefined || result.data.length !== batch.length * F) throw new Error(`image classifier: the front end did not give ${F} features per image`);
      batch.forEach((r, b) => {
        const row = result.data.slice(b * F, (b + 1) * F);
        out.set(row, r * F);
        const key = keys[r] as ViewKey;
        if (this.keptBytes + row.byteLength <= this.budgetBytes) {
          this.kept.set(`${key.image}:${key.view}`, row);
          this.keptBytes += row.byteLength;
        }
      });
    }
    return out;
  }
}

/** A view's own seed (FNV-style mixing of the training seed, the image and the view). */
function viewSeed(seed: number, k: ViewKey): number {
  let h = (seed ^ 0x811c9dc5) >>> 0;
  h = Math.imul(h ^ k.image, 0x01000193) >>> 0;
  h = Math.imul(h ^ k.view, 0x01000193) >>> 0;
  return Math.imul(h ^ (h >>> 15), 0x2c1b3c6d) >>> 0;
}
