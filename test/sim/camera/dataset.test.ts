import { describe, expect, it } from 'vitest';
import { renderLabelledImage } from '../../../sim/camera/dataset.js';
import { beltRows, boxesOverlap, brightOutside } from './luma-checks.js';

describe('renderLabelledImage', () => {
  it('renders the same image and truth for the same seed, and another for the next seed', () => {
    const a = renderLabelledImage(1234, 320, 180);
    const b = renderLabelledImage(1234, 320, 180);
    expect(Buffer.compare(a.y, b.y)).toBe(0);
    expect(a.parts).toEqual(b.parts);
    expect(Buffer.compare(renderLabelledImage(1235, 320, 180).y, a.y)).not.toBe(0);
  });

  it('places 0 to 4 visible, non-overlapping parts, some cut by the frame edge, all boxed', () => {
    const width = 320, height = 180;
    const counts = new Set<number>();
    let cut = 0, total = 0;
    for (let seed = 0; seed < 200; seed++) {
      const img = renderLabelledImage(seed, width, height);
      expect(img.y.length).toBe(width * height);
      counts.add(img.parts.length);
      for (const [i, part] of img.parts.entries()) {
        total++;
        if (part.visible < 1) cut++;
        expect(part.visible).toBeGreaterThan(0);
        expect(part.id).toBe(i + 1);
        expect(part.box.x).toBeGreaterThanOrEqual(0);
        expect(part.box.x + part.box.w).toBeLessThanOrEqual(width);
        for (const other of img.parts.slice(i + 1)) expect(boxesOverlap(part.box, other.box)).toBe(false);
      }
      expect(brightOutside(img.y, width, beltRows(height), img.parts.map((p) => p.box), 140, 1)).toBe(0);
    }
    expect([...counts].sort()).toEqual([0, 1, 2, 3, 4]);
    expect(cut).toBeGreaterThan(0.03 * total);
    expect(cut).toBeLessThan(0.3 * total);
  });

  it('balances sound and defective parts by default and honours defectShare', () => {
    let defective = 0, total = 0, none = 0;
    for (let seed = 0; seed < 150; seed++) {
      for (const p of renderLabelledImage(seed, 96, 54).parts) {
        total++;
        if (p.defect !== 'none') defective++;
      }
      none += renderLabelledImage(seed, 96, 54, { defectShare: 0 }).parts.filter((p) => p.defect !== 'none').length;
    }
    expect(defective / total).toBeGreaterThan(0.4);
    expect(defective / total).toBeLessThan(0.6);
    expect(none).toBe(0);
  });
});
