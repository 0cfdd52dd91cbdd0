import { describe, expect, it } from 'vitest';
import type { Receipt, Source, SourceContext, Stage } from '../../../runtime/pipeline/components.js';
import { Pipeline } from '../../../runtime/pipeline/pipeline.js';
import type { RecordInput } from '../../../runtime/pipeline/record.js';
import { StoreWriter } from '../../../runtime/store/store-writer.js';
import { openOutbox, quietEvents, readAll } from '../../support/store.js';
import { makeTempDir } from '../../support/temp-dir.js';

const rec = (n: number): RecordInput => ({ stream: 's', class: 'telemetry', ts: 1_700_000_000_000 + n, data: { n } });
const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);
const text = (b: Uint8Array | undefined): string | undefined => (b === undefined ? undefined : new TextDecoder().decode(b));

class ManualSource implements Source {
  ctx: SourceContext | undefined;
  async start(ctx: SourceContext): Promise<void> {
    this.ctx = ctx;
  }
  async stop(): Promise<void> {}
  emit(records: RecordInput[], checkpoint: string): Promise<Receipt> {
    if (this.ctx === undefined) throw new Error('not started');
    return this.ctx.emit(records, { checkpoint: bytes(checkpoint) });
  }
}

describe('source checkpoints in the store', () => {
  it('are written in the batch that carries their records, the latest of a source winning, and read back after a reopen', async () => {
    const dir = await makeTempDir();
    try {
      let o = await openOutbox(dir.path, { maxSizeBytes: 1 << 20, sync: false });
      expect(await o.outbox.readCheckpoint('a')).toBeUndefined();
      await o.outbox.append([rec(1), rec(2)], [
        { key: 'a', value: bytes('1') },
        { key: 'b', value: bytes('x') },
        { key: 'a', value: bytes('2') },
      ]);
      // A batch whose records are all rejected still moves the source on (it saw them).
      await o.outbox.append([{ stream: '', class: 'telemetry', ts: 1, data: null }], [{ key: 'a', value: bytes('3') }]);
      await o.close();
      o = await openOutbox(dir.path, { maxSizeBytes: 1 << 20, sync: false });
      expect(text(await o.outbox.readCheckpoint('a'))).toBe('3');
      expect(text(await o.outbox.readCheckpoint('b'))).toBe('x');
      // Not records: not counted, never read out for the fleet.
      expect(o.outbox.size).toBe(2);
      expect(await readAll(o.outbox)).toHaveLength(2);
      await o.close();
    } finally {
      await dir.remove();
    }
  });

  it('travel through the pipeline with their batch, past a stage that consumes some batches, to the store writer', async () => {
    const dir = await makeTempDir();
    const o = await openOutbox(dir.path, { maxSizeBytes: 1 << 20, sync: false });
    try {
      // Keeps only even records: odd ones are consumed, their checkpoint goes out with the next output.
      const evens: Stage = { process: (records) => records.filter((r) => ((r.data as { n: number }).n & 1) === 0) };
      const queue = { maxRecords: 100, whenFull: 'block' as const, sampleEvery: 2 };
      const source = new ManualSource();
      const p = new Pipeline({ id: 'p', sourceId: 'src-1', sourceType: 'manual', source, stages: [{ type: 'evens', stage: evens, queue }], queue, checkpoints: o.outbox }, quietEvents());
      const writer = new StoreWriter(o.outbox, quietEvents('store'), { batchMaxRecords: 100, retryMinDelayMs: 10, retryMaxDelayMs: 100 });
      writer.attach(p.output);
      writer.start();
      await p.start();
      expect(await source.ctx?.readCheckpoint?.()).toBeUndefined();
      await (await source.emit([rec(0)], 'after-0')).stored;
      expect(text(await source.ctx?.readCheckpoint?.())).toBe('after-0');
      const consumed = await (await source.emit([rec(1)], 'after-1')).stored;
      expect(consumed.consumed).toBe(1);
      expect(text(await o.outbox.readCheckpoint('src-1'))).toBe('after-0'); // nothing written yet
      await (await source.emit([rec(2)], 'after-2')).stored;
      expect(text(await o.outbox.readCheckpoint('src-1'))).toBe('after-2');
      await p.stopSource();
      await p.drainStages();
      await writer.whenIdle();
      await writer.stop();
    } finally {
      await o.close();
      await dir.remove();
    }
  });
});
