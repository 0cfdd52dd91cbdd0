import type { ClassificationDataset, ClassificationSample, RgbImage } from '../../../../models/datasets/types.js';
import { seededRandom } from '../../../../models/train/random.js';
import { randomPartSpec, PART_SIZE_SHARE_OF_HEIGHT, type PartSpec } from '../../../../sim/camera/part-spec.js';
import { renderPartSprite } from '../../../../sim/camera/part-sprite.js';
import type { PartDefect } from '../../../../sim/camera/types.js';

/**
 * A quality engineer's folder of part photos, made from the conveyor simulator's parts: one
 * part a photo (disc, square or hexagon, any rotation, its own shading), good or with one
 * defect (a scratch, a dent, a missing hole), on a coloured belt with grain, a little off
 * centre, photographed at different sizes and aspect ratios, under a lamp of random
 * brightness, colour and fall-off, with sensor noise. The class is in small local structure
 * only: the photo's brightness, colour or the part's shape say nothing about it.
 * Folders sort as the dataset reader sorts them: dent, good, missing-hole, scratch.
 */
export const PHOTO_CLASSES = ['dent', 'good', 'missing-hole', 'scratch'] as const;
const DEFECT_OF: Readonly<Record<(typeof PHOTO_CLASSES)[number], PartDefect>> = { dent: 'dent', good: 'none', 'missing-hole': 'missing-hole', scratch: 'scratch' };

/** A part spec of the wanted defect, drawn from the simulator's own distribution. */
function specOf(defect: PartDefect, random: () => number, frameHeight: number): PartSpec {
  for (;;) {
    const spec = randomPartSpec(random, frameHeight, defect === 'none' ? 0 : 1);
    if (spec.defect === defect) return spec;
  }
}

/** A photo of a part of class `classId` (PHOTO_CLASSES); `size`: a camera's fixed frame size instead of the folder's mix of sizes. */
export function partPhoto(classId: number, seed: number, size?: { width: number; height: number }): RgbImage {
  const random = seededRandom(seed);
  // Photos of 64 to 128 rows, square to 3:2 (some landscape, some portrait).
  const long = 1 + 0.5 * random();
  const rows = 64 + Math.floor(random() * 64);
  const portrait = random() < 0.3;
  const width = size?.width ?? (portrait ? rows : Math.round(rows * long));
  const height = size?.height ?? (portrait ? Math.round(rows * long) : rows);
  const side = Math.min(width, height);
  const defect = DEFECT_OF[PHOTO_CLASSES[classId] as (typeof PHOTO_CLASSES)[number]];
  // The part fills 55-75% of the photo's short side.
  const spec = specOf(defect, random, (side * (0.55 + 0.2 * random())) / PART_SIZE_SHARE_OF_HEIGHT);
  const sprite = renderPartSprite(spec);
  const belt = [40 + 60 * random(), 40 + 60 * random(), 40 + 60 * random()];
  const lamp = [0.85 + 0.3 * random(), 0.85 + 0.3 * random(), 0.85 + 0.3 * random()];
  const gain = 0.55 + 0.75 * random();
  const falloffAngle = random() * 2 * Math.PI;
  const falloff = 0.35 * random();
  const noise = 2 + 6 * random();
  const ox = Math.round(width / 2 - sprite.size / 2 + (random() * 2 - 1) * 0.12 * width);
  const oy = Math.round(height / 2 - sprite.size / 2 + (random() * 2 - 1) * 0.12 * height);
  const data = new Uint8Array(width * height * 3);
  const fx = Math.cos(falloffAngle);
  const fy = Math.sin(falloffAngle);
  for (let y = 0; y < height; y += 1) {
    for (let x = 0; x < width; x += 1) {
      const sx = x - ox;
      const sy = y - oy;
      const inside = sx >= 0 && sy >= 0 && sx < sprite.size && sy < sprite.size;
      const a = inside ? (sprite.alpha[sy * sprite.size + sx] as number) : 0;
      const metal = inside ? (sprite.luma[sy * sprite.size + sx] as number) : 0;
      // The lamp falls off across the photo in one direction.
      const light = gain * (1 + falloff * (((x / width - 0.5) * fx + (y / height - 0.5) * fy) * 2));
      const grain = (random() - 0.5) * 16;
      for (let c = 0; c < 3; c += 1) {
        const surface = a * metal + (1 - a) * ((belt[c] as number) + grain);
        const v = surface * light * (lamp[c] as number) + (random() + random() + random() - 1.5) * noise;
        data[(y * width + x) * 3 + c] = Math.max(0, Math.min(255, Math.round(v)));
      }
    }
  }
  return { width, height, data };
}

/** `perClass` photos of each class for train and `valPerClass` for val (disjoint seeds), decoded lazily as a reader's would be. */
export function partPhotoDataset(o: { perClass: readonly number[]; valPerClass: number; seed: number }): ClassificationDataset {
  const split = (name: string, counts: readonly number[], base: number): ClassificationSample[] =>
    counts.flatMap((n, classId) =>
      Array.from({ length: n }, (_, k) => {
        const seed = base + classId * 100_000 + k;
        return { file: `${name}/${PHOTO_CLASSES[classId]}/${seed}.png`, classId, load: async () => partPhoto(classId, seed) };
      }),
    );
  return {
    task: 'classify',
    root: '/synthetic/part-photos',
    classNames: [...PHOTO_CLASSES],
    train: split('train', o.perClass, o.seed * 1_000_000),
    val: split('val', PHOTO_CLASSES.map(() => o.valPerClass), o.seed * 1_000_000 + 500_000),
  };
}
