import { describe, expect, it } from 'vitest';
import { BOARD_CLASSES, boardDataset, boardLabels, renderBoard } from '../../../sim/datasets/board.js';

describe('synthetic circuit boards', () => {
  it('are the same board for the same seed, and another board for another seed', () => {
    const a = renderBoard(7);
    const b = renderBoard(7);
    expect(Buffer.from(a.image.data).equals(Buffer.from(b.image.data))).toBe(true);
    expect(a.boxes).toEqual(b.boxes);
    expect(Buffer.from(renderBoard(8).image.data).equals(Buffer.from(a.image.data))).toBe(false);
  });

  it('label only defects of 10-40 px on a 640 px board, inside the board, of every class, without overlaps', () => {
    const seen = new Set<number>();
    for (let seed = 1; seed <= 40; seed += 1) {
      const boxes = boardLabels(seed);
      for (const b of boxes) {
        seen.add(b.classId);
        expect(b.classId).toBeGreaterThanOrEqual(0);
        expect(b.classId).toBeLessThan(BOARD_CLASSES.length);
        for (const side of [b.w * 640, b.h * 640]) {
          expect(side).toBeGreaterThanOrEqual(10);
          expect(side).toBeLessThanOrEqual(40);
        }
        expect(b.cx - b.w / 2).toBeGreaterThanOrEqual(0);
        expect(b.cy + b.h / 2).toBeLessThanOrEqual(1);
      }
      boxes.forEach((p, i) => boxes.slice(i + 1).forEach((q) => expect(Math.abs(p.cx - q.cx) < (p.w + q.w) / 2 && Math.abs(p.cy - q.cy) < (p.h + q.h) / 2).toBe(false)));
    }
    expect([...seen].sort()).toEqual([0, 1, 2]);
  });

  it('give the same labels when only labelled as when rendered', () => {
    for (const seed of [3, 11, 29]) expect(boardLabels(seed)).toEqual(renderBoard(seed).boxes);
  });

  it('draw each defect where its box is: the pixels inside differ from the same board drawn without defects', () => {
    for (const seed of [2, 5, 9]) {
      const withDefects = renderBoard(seed);
      const clean = renderBoard(seed, { maxDefects: 0 });
      expect(withDefects.boxes.length).toBeGreaterThan(0);
      for (const b of withDefects.boxes) {
        let changed = 0;
        const x0 = Math.floor((b.cx - b.w / 2) * 640);
        const y0 = Math.floor((b.cy - b.h / 2) * 640);
        for (let y = y0; y < y0 + b.h * 640; y += 1) for (let x = x0; x < x0 + b.w * 640; x += 1) for (let c = 0; c < 3; c += 1) changed += Math.abs((withDefects.image.data[(y * 640 + x) * 3 + c] as number) - (clean.image.data[(y * 640 + x) * 3 + c] as number)) > 20 ? 1 : 0;
        expect(changed, `defect ${BOARD_CLASSES[b.classId]} on board ${seed}`).toBeGreaterThan(10);
      }
    }
  });

  it('make a detection dataset with disjoint train and validation boards that render when loaded', async () => {
    const ds = boardDataset({ train: 3, val: 2 });
    expect(ds.classNames).toEqual([...BOARD_CLASSES]);
    const files = new Set([...ds.train, ...ds.val].map((s) => s.file));
    expect(files.size).toBe(5);
    const img = await (ds.val[0] as (typeof ds.val)[number]).load();
    expect([img.width, img.height, img.data.length]).toEqual([640, 640, 640 * 640 * 3]);
  });
});
