import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readYoloDataset } from '../../../models/datasets/yolo-dataset.js';
import { rgbFromLuma } from '../../../models/datasets/rgb-image.js';
import { renderLabelledImage } from '../../../sim/camera/dataset.js';
import { CONVEYOR_CLASSES, boxOf, fullRange, writeConveyorYoloDataset } from '../../../sim/datasets/conveyor-yolo.js';
import { writeYoloDataset } from '../../../sim/datasets/yolo-writer.js';
import { makeTempDir } from '../../support/temp-dir.js';
import { meanAbsDiff } from '../../models/datasets/image-tools.js';

let tmp: { path: string; remove: () => Promise<void> };
beforeEach(async () => {
  tmp = await makeTempDir('edgewise-conveyor-yolo-');
});
afterEach(async () => {
  await tmp.remove();
});

describe('writeConveyorYoloDataset', () => {
  it('writes PNG stills and label files that the reader gives back exactly: pixels, boxes, class names', async () => {
    const written = await writeConveyorYoloDataset(tmp.path, { train: 6, val: 3, seed: 7, format: 'png', width: 320, height: 180 });
    expect([written.train, written.val]).toEqual([6, 3]);
    expect(written.objects).toBeGreaterThan(0);
    const d = await readYoloDataset(tmp.path);
    expect(d.classNames).toEqual([...CONVEYOR_CLASSES]);
    expect([d.train.length, d.val.length]).toEqual([6, 3]);
    // The first training still is the simulator's still of seed 1 + 7e6, stretched to full range as the gateway converts video: the same parts.
    const still = renderLabelledImage(1 + 7 * 1_000_000, 320, 180);
    const first = d.train[0];
    if (first === undefined) throw new Error('no sample');
    const pixels = await first.load();
    // Compared as a count of differing bytes: toEqual on 170 KB arrays that differ takes minutes to print.
    const expected = rgbFromLuma(fullRange(still.y), 320, 180);
    expect([pixels.width, pixels.height]).toEqual([320, 180]);
    expect(pixels.data.filter((v, i) => v !== expected.data[i]).length).toBe(0);
    // Full range: the stills' 16..235 cover 0..255 (black and white parts of the scene reach the ends).
    expect(pixels.data.reduce((m, v) => Math.min(m, v), 255)).toBeLessThan(16);
    const truth = still.parts.map((p) => boxOf(p, 320, 180));
    expect(first.boxes).toHaveLength(truth.length);
    first.boxes.forEach((b, i) => {
      const t = truth[i];
      if (t === undefined) throw new Error('missing box');
      expect(b.classId).toBe(t.classId);
      for (const k of ['cx', 'cy', 'w', 'h'] as const) expect(Math.abs(b[k] - t[k])).toBeLessThanOrEqual(1e-6); // 6 decimals in the file
    });
    expect(d.train.flatMap((s) => s.boxes).map((b) => b.classId)).toContain(1); // some defective parts among them
    // data.yaml as a user (or Ultralytics) would read it.
    expect(await readFile(join(tmp.path, 'data.yaml'), 'utf8')).toBe('path: .\ntrain: images/train\nval: images/val\nnames:\n  "0": part\n  "1": defective-part\n');
  });

  it('writes JPEG stills close to the rendered ones, and train and val from different stills', async () => {
    await writeConveyorYoloDataset(tmp.path, { train: 2, val: 2, seed: 1, format: 'jpg', width: 320, height: 180 });
    const d = await readYoloDataset(tmp.path);
    expect(d.train[0]?.file).toMatch(/\.jpg$/);
    const still = renderLabelledImage(1 + 1_000_000, 320, 180);
    expect(meanAbsDiff((await (d.train[0] as { load: () => Promise<{ data: Uint8Array }> }).load()).data, rgbFromLuma(fullRange(still.y), 320, 180).data)).toBeLessThan(3);
    const trainPixels = (await (d.train[0] as { load: () => Promise<{ data: Uint8Array }> }).load()).data;
    for (const v of d.val) expect(meanAbsDiff((await v.load()).data, trainPixels)).toBeGreaterThan(1);
  });

  it('writeYoloDataset takes any samples (a generator of boards, say) and names them', async () => {
    const image = { width: 16, height: 16, data: new Uint8Array(768).fill(40) };
    function* boards(n: number): Generator<{ name: string; image: typeof image; boxes: { classId: number; cx: number; cy: number; w: number; h: number }[] }> {
      for (let i = 0; i < n; i += 1) yield { name: `board-${i}`, image, boxes: [{ classId: i % 3, cx: 0.5, cy: 0.5, w: 0.25, h: 0.125 }] };
    }
    await writeYoloDataset(tmp.path, ['solder-bridge', 'missing', 'tombstone'], { train: boards(3), val: boards(1) });
    const d = await readYoloDataset(tmp.path);
    expect(d.classNames).toEqual(['solder-bridge', 'missing', 'tombstone']);
    expect(d.train.map((s) => [s.file.slice(tmp.path.length + 1), s.boxes[0]?.classId])).toEqual([
      ['images/train/board-0.png', 0],
      ['images/train/board-1.png', 1],
      ['images/train/board-2.png', 2],
    ]);
  });
});
