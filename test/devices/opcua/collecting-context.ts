import type { ComponentEvents, EventFields } from '../../../runtime/health/events.js';
import type { SourceContext } from '../../../runtime/pipeline/components.js';
import { emptyResult, type RecordInput } from '../../../runtime/pipeline/record.js';

export interface SeenEvent {
  readonly level: string;
  readonly name: string;
  readonly fields: EventFields;
}

/** A SourceContext that keeps what a source emits and logs (for tests of one source, without a pipeline). */
/** `gate`: each emit waits for it first (a full first edge under `block`). */
export function collectingContext(gate?: () => Promise<void>): { ctx: SourceContext; records: RecordInput[]; events: SeenEvent[]; abort: AbortController } {
  const records: RecordInput[] = [];
  const events: SeenEvent[] = [];
  const abort = new AbortController();
  const log = (level: string) => (name: string, fields: EventFields = {}) => void events.push({ level, name, fields });
  const ev = { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error'), isEnabled: () => true, component: 'test' } as unknown as ComponentEvents;
  const ctx: SourceContext = {
    emit: async (batch) => {
      await gate?.();
      records.push(...batch);
      return { stored: Promise.resolve({ ...emptyResult, stored: batch.length }) };
    },
    signal: abort.signal,
    events: ev,
  };
  return { ctx, records, events, abort };
}
