import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { GroupCommit } from '../../../fleet/ingest/group-commit.js';

describe('group commit', () => {
  it('writes every item once, in order, with at most `concurrency` writes under way, and answers each after its write', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 200 }), fc.integer({ min: 1, max: 50 }), fc.integer({ min: 1, max: 3 }), async (n, maxBatch, concurrency) => {
        const written: number[] = [];
        const done = new Set<number>();
        let under = 0;
        let most = 0;
        const gc = new GroupCommit<number>({
          maxBatch,
          maxPendingBytes: 1e9,
          concurrency,
          write: async (items) => {
            under += 1;
            most = Math.max(most, under);
            await new Promise((resolve) => setImmediate(resolve));
            // Nothing of this batch may have been answered before its write ends.
            expect(items.some((i) => done.has(i))).toBe(false);
            written.push(...items);
            under -= 1;
          },
        });
        await Promise.all(Array.from({ length: n }, (_, i) => gc.add(i, 1).then(() => done.add(i))));
        await gc.close();
        expect(written).toEqual(Array.from({ length: n }, (_, i) => i));
        expect(most).toBeLessThanOrEqual(concurrency);
      }),
      { numRuns: 60 },
    );
  });

  it('refuses items past its byte bound at once, and fails a batch whose write fails without touching the next', async () => {
    let fail = true;
    const gc = new GroupCommit<string>({
      maxBatch: 1,
      maxPendingBytes: 10,
      write: async () => {
        if (fail) {
          fail = false;
          throw new Error('database away');
        }
      },
    });
    const first = gc.add('a', 6);
    await expect(gc.add('b', 6)).rejects.toMatchObject({ code: 'E_INGEST_OVERLOADED' });
    await expect(first).rejects.toThrow('database away');
    await expect(gc.add('c', 6)).resolves.toBeUndefined();
    await gc.close();
    await expect(gc.add('d', 1)).rejects.toMatchObject({ code: 'E_INGEST_OVERLOADED' });
  });
});
