import type { Receipt, Source, SourceContext } from '../../runtime/pipeline/components.js';
import type { RecordInput } from '../../runtime/pipeline/record.js';

/** A source the test drives by hand: `emit` hands records to the pipeline it was started in. */
export class ManualSource implements Source {
  ctx: SourceContext | undefined;
  async start(ctx: SourceContext): Promise<void> {
    this.ctx = ctx;
  }
  async stop(): Promise<void> {}
  emit(records: RecordInput[]): Promise<Receipt> {
    if (this.ctx === undefined) throw new Error('not started');
    return this.ctx.emit(records);
  }
}
