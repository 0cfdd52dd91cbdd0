import { defineConfig } from 'vitest/config';
import { LongestFirstSequencer } from './test/vitest/longest-first-sequencer.js';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Two cores: end-to-end files run brokers and gateways as child processes.
    maxWorkers: 2,
    // Longest files first, in a fresh clone too (test/vitest/longest-first-sequencer.ts).
    sequence: { sequencer: LongestFirstSequencer },
  },
});
