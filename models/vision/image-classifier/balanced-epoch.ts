import { shuffleInPlace } from '../../train/random.js';
import type { ViewKey } from './feature-views.js';

/**
 * Per epoch, every class as often as the largest one: all of a class's images, then random
 * repeats (differently augmented) of the smaller classes, so a line with 20 photos of a
 * defect and 500 of good parts does not learn "always good". Shuffled; from the epoch's seed.
 */
export function balancedEpoch(byClass: readonly number[][], random: () => number): number[] {
  const most = Math.max(...byClass.map((c) => c.length));
  const rows: number[] = [];
  for (const members of byClass) {
    rows.push(...members);
    for (let k = members.length; k < most; k += 1) rows.push(members[Math.floor(random() * members.length)] as number);
  }
  shuffleInPlace(rows, random);
  return rows;
}

/** Which view of each row's image an epoch uses: a different one each epoch, and for a repeat within the epoch the next. */
export function viewKeys(rows: readonly number[], epoch: number, views: number): ViewKey[] {
  const seen = new Map<number, number>();
  return rows.map((image) => {
    const n = seen.get(image) ?? 0;
    seen.set(image, n + 1);
    return { image, view: (epoch + n) % views };
  });
}

