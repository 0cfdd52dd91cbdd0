import type { WireRecord } from '../protocol/index.js';
import type { EventKind } from '../events/event-store.js';

/**
 * Which kind of stored event a record is: an `alert` record is an alert; a `result` whose
 * data names an `event` (a vision defect, a part entering a zone) is an event; any other
 * result (an anomaly score summary, an aggregate) is a summary. Telemetry is not stored.
 */
export function eventKind(record: WireRecord): EventKind | undefined {
  if (record.class === 'alert') return 'alert';
  if (record.class !== 'result') return undefined;
  const d = record.data;
  return d !== null && typeof d === 'object' && typeof (d as { event?: unknown }).event === 'string' ? 'event' : 'summary';
}

/** The model a record names (`data.model.name`, as the anomaly and vision stages write it). */
export function recordModel(record: WireRecord): string | null {
  const m = (record.data as { model?: { name?: unknown } } | null)?.model;
  const name = m !== null && typeof m === 'object' ? m.name : undefined;
  return typeof name === 'string' && name.length <= 128 ? name : null;
}
