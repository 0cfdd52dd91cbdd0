import { describe, expect, it } from 'vitest';
import { PlainTrainingDisplay, etaSeconds, formatDuration } from '../../cli/training-progress.js';

describe('training progress', () => {
  it('estimates the time left from the pace so far, counting only the epochs run in this process', () => {
    // Resumed at epoch 3 of 4, 10 steps an epoch: 5 steps took 10 s, 15 steps are left.
    expect(etaSeconds({ epoch: 3, epochs: 4, step: 5, steps: 10, loss: 1 }, 10_000, 3)).toBeCloseTo(30);
    expect(etaSeconds({ epoch: 1, epochs: 4, step: 0, steps: 10, loss: 1 }, 0, 1)).toBeNull();
    expect(formatDuration(42)).toBe('42s');
    expect(formatDuration(125)).toBe('2m05s');
    expect(formatDuration(3 * 3600 + 60)).toBe('3h01m');
    expect(formatDuration(null)).toBe('?');
  });

  it('prints a line at each epoch end and at most one per interval within an epoch', () => {
    const lines: string[] = [];
    let now = 0;
    const d = new PlainTrainingDisplay((l) => lines.push(l), 10_000, () => now);
    for (let epoch = 1; epoch <= 2; epoch += 1) {
      for (let step = 1; step <= 100; step += 1) {
        now += 1000;
        d.update({ epoch, epochs: 2, step, steps: 100, loss: 1 / step });
      }
    }
    // 100 s an epoch: 9 interval lines (every 10 s, the 10th is the epoch end) + the end, twice.
    expect(lines).toHaveLength(20);
    expect(lines[9]).toMatch(/^epoch 1\/2, step 100\/100, loss 0\.01000, ETA 1m40s$/);
    expect(lines.at(-1)).toMatch(/^epoch 2\/2, step 100\/100, .*ETA 0s$/);
  });
});
