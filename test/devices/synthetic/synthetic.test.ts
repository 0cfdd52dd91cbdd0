import { describe, expect, it } from 'vitest';
import { SyntheticSource } from '../../../devices/synthetic/index.js';
import { sampleChannel, seededRandom } from '../../../devices/synthetic/signals.js';
import type { Receipt, SourceContext } from '../../../runtime/pipeline/components.js';
import type { RecordInput } from '../../../runtime/pipeline/record.js';
import { quietEvents } from '../../support/store.js';
import { waitFor } from '../../support/wait-for.js';

describe('synthetic source', () => {
  it('is deterministic from its seed', () => {
    const ch = { name: 'x', offset: 1, sine: { amplitude: 2, frequencyHz: 3 }, noise: { stddev: 0.5 }, spikes: { probability: 0.1, height: 9 } };
    const run = (seed: number): number[] => {
      const r = seededRandom(seed);
      return Array.from({ length: 100 }, (_, i) => sampleChannel(ch, i * 10, r));
    };
    expect(run(7)).toEqual(run(7));
    expect(run(7)).not.toEqual(run(8));
  });

  it('makes steps and spikes where asked', () => {
    const r = seededRandom(1);
    expect(sampleChannel({ name: 's', steps: { everyMs: 100, height: 5 } }, 50, r)).toBe(0);
    expect(sampleChannel({ name: 's', steps: { everyMs: 100, height: 5 } }, 150, r)).toBe(5);
    expect(sampleChannel({ name: 's', spikes: { probability: 1, height: 7 } }, 0, r)).toBe(7);
  });

  it('emits rateHz samples per second, numbered without gaps, at the configured shape', async () => {
    const source = new SyntheticSource({ id: 'd', rateHz: 1000, samplesPerRecord: 4, class: 'telemetry', stream: 'd', seed: 1, channels: [{ name: 'x' }, { name: 'y', offset: 2 }] });
    const got: RecordInput[] = [];
    const abort = new AbortController();
    const ctx: SourceContext = {
      signal: abort.signal,
      events: quietEvents(),
      emit: async (records): Promise<Receipt> => {
        got.push(...records);
        return { stored: Promise.resolve({ stored: records.length, dropped: 0, evicted: 0, consumed: 0 }) };
      },
    };
    const t0 = Date.now();
    await source.start(ctx);
    await waitFor(() => got.length >= 100, '100 records');
    await source.stop();
    const elapsed = Date.now() - t0;
    const samples = got.length * 4;
    expect(samples).toBeLessThanOrEqual((elapsed * 1000) / 1000 + 4);
    got.forEach((r, i) => {
      const d = r.data as { n: number; values: { x: number[]; y: number[] } };
      expect(d.n).toBe(i * 4);
      expect(d.values.x).toHaveLength(4);
      expect(d.values.y).toEqual([2, 2, 2, 2]);
    });
  });
});
