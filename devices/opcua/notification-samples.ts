import type { DataValue, NotificationMessage } from 'node-opcua-client';
import type { OpcuaCounters } from './counters.js';
import { msOf, numberOf } from './sample-values.js';
import { mapHandles, type SubState } from './subscription.js';

/** A notification's samples by item name: the `data` of its record, each list one entry per sample. */
export interface NotificationSamples {
  readonly values: Record<string, number[]>;
  readonly status: Record<string, number[]>;
  readonly sourceTs: Record<string, (number | null)[]>;
  readonly serverTs: Record<string, (number | null)[]>;
  /** Samples kept. */
  readonly n: number;
  /** The newest sample's source (else server) timestamp in ms; 0 when none has one. */
  readonly newest: number;
}

/**
 * The data-change samples of one NotificationMessage of subscription `s`, counted by status in
 * `c`. Bad samples are kept (NaN, marked by their status code); a Good or Uncertain one that is
 * not a number is left out and counted.
 */
export function samplesOf(s: SubState, m: NotificationMessage, c: Pick<OpcuaCounters, 'overflowSamples' | 'badSamples' | 'uncertainSamples' | 'nonNumericSamples'>): NotificationSamples {
  const values: Record<string, number[]> = {};
  const status: Record<string, number[]> = {};
  const sourceTs: Record<string, (number | null)[]> = {};
  const serverTs: Record<string, (number | null)[]> = {};
  let n = 0;
  let newest = 0;
  for (const nd of m.notificationData ?? []) {
    if (nd === null || (nd as { schema?: { name?: string } }).schema?.name !== 'DataChangeNotification') continue;
    for (const mi of (nd as unknown as { monitoredItems?: { clientHandle: number; value: DataValue }[] }).monitoredItems ?? []) {
      let item = s.handles.get(mi.clientHandle);
      if (item === undefined) {
        // The server recreated the items (new handles): map them again.
        mapHandles(s);
        item = s.handles.get(mi.clientHandle);
        if (item === undefined) continue;
      }
      const dv = mi.value;
      const sc = dv.statusCode;
      const v = numberOf(dv.value?.value, dv.value?.dataType);
      if (sc.hasOverflowBit) c.overflowSamples += 1;
      if (sc.isBad()) c.badSamples += 1;
      else if (sc.isNotGood()) c.uncertainSamples += 1;
      if (v === undefined && !sc.isBad()) {
        c.nonNumericSamples += 1;
        continue;
      }
      const name = item.config.name;
      // A Bad sample usually carries no value: NaN, marked by its status code.
      (values[name] ??= []).push(v ?? Number.NaN);
      (status[name] ??= []).push(sc.value >>> 0);
      const src = msOf(dv.sourceTimestamp);
      const srv = msOf(dv.serverTimestamp);
      (sourceTs[name] ??= []).push(src);
      (serverTs[name] ??= []).push(srv);
      newest = Math.max(newest, src ?? srv ?? 0);
      n += 1;
    }
  }
  return { values, status, sourceTs, serverTs, n, newest };
}
