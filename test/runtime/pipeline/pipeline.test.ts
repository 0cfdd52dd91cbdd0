import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import type { Stage } from '../../../runtime/pipeline/components.js';
import { Pipeline } from '../../../runtime/pipeline/pipeline.js';
import type { EmitResult, RecordInput } from '../../../runtime/pipeline/record.js';
import { AggregateStage } from '../../../runtime/stages/aggregate/index.js';
import { ManualSource } from '../../support/manual-source.js';
import { quietEvents } from '../../support/store.js';

const slow: Stage = {
  async process(records) {
    await sleep(50);
    return records;
  },
};
const passThrough: Stage = { process: (records) => records };
const queue = { maxRecords: 100, whenFull: 'block' as const, sampleEvery: 2 };
const rec = (n: number, ts = n): RecordInput => ({ stream: 's', class: 'telemetry', ts, data: { n, values: { x: [n] } } });

describe('pipeline', () => {
  it('drains front to back: nothing is stranded between a slow stage and a fast one', async () => {
    const source = new ManualSource();
    const p = new Pipeline(
      {
        id: 'p',
        sourceId: 's',
        sourceType: 'manual',
        source,
        stages: [
          { type: 'slow', stage: slow, queue },
          { type: 'fast', stage: passThrough, queue },
        ],
        queue,
      },
      quietEvents(),
    );
    await p.start();
    await source.emit([rec(1), rec(2), rec(3)]);
    await p.stopSource();
    await p.drainStages();
    const depths = p.edgeStats().map((e) => [e.name, e.depthRecords]);
    expect(depths).toEqual([
      ['source->slow', 0],
      ['slow->fast', 0],
      ['fast->store', 3],
    ]);
  });

  it('a window a stage holds is flushed into the store edge on drain, and its producers are settled', async () => {
    const source = new ManualSource();
    const p = new Pipeline({ id: 'p', sourceId: 's', sourceType: 'manual', source, stages: [{ type: 'aggregate', stage: new AggregateStage(1000, '.agg'), queue }], queue }, quietEvents());
    await p.start();
    const receipt = await source.emit([rec(1, 10), rec(2, 20)]);
    await p.stopSource();
    await p.drainStages();
    const consumed: EmitResult = await receipt.stored;
    expect(consumed.consumed).toBe(2); // folded into the window
    const [item] = p.output.take(100);
    expect(item?.records).toHaveLength(1);
    expect(item?.records[0]?.data).toMatchObject({ windowMs: 1000, records: 2, channels: { x: { count: 2, min: 1, max: 2 } } });
  });

  it('a stage that throws costs only its batch, counted as dropped', async () => {
    const source = new ManualSource();
    let calls = 0;
    const flaky: Stage = {
      process(records) {
        calls += 1;
        if (calls === 1) throw new Error('bug');
        return records;
      },
    };
    const p = new Pipeline({ id: 'p', sourceId: 's', sourceType: 'manual', source, stages: [{ type: 'flaky', stage: flaky, queue }], queue }, quietEvents());
    await p.start();
    const first = await source.emit([rec(1)]);
    expect((await first.stored).dropped).toBe(1);
    await source.emit([rec(2)]);
    await p.stopSource();
    await p.drainStages();
    expect(p.output.depthRecords).toBe(1);
    expect(p.sourceStats().dropped).toBe(1);
  });
});
