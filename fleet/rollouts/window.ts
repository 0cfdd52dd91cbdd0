import { matches, parseSelector, type Labels } from '../registry/labels.js';

/**
 * A maintenance window: gateways whose labels match `selector` may be told of a release only
 * between `from` and `to` (HH:MM, the gateway site's local time in `timeZone`, an IANA name
 * like Europe/Berlin). `from` after `to` spans midnight (22:00-05:00).
 */
export interface MaintenanceWindow {
  readonly selector: string;
  readonly from: string;
  readonly to: string;
  readonly timeZone: string;
}

export class WindowError extends Error {
  readonly code = 'E_ROLLOUT_INVALID';
}

const HHMM = /^([01]\d|2[0-3]):([0-5]\d)$/;

function minutes(hhmm: string, where: string): number {
  const m = HHMM.exec(hhmm);
  if (m === null) throw new WindowError(`${where}: expected HH:MM (00:00-23:59), got ${JSON.stringify(hhmm)}`);
  return Number(m[1]) * 60 + Number(m[2]);
}

/** Checks a window's fields; throws WindowError naming the field. */
export function checkWindow(w: MaintenanceWindow, where: string): void {
  minutes(w.from, `${where}.from`);
  minutes(w.to, `${where}.to`);
  try {
    new Intl.DateTimeFormat('en-GB', { timeZone: w.timeZone });
  } catch {
    throw new WindowError(`${where}.timeZone: ${JSON.stringify(w.timeZone)} is not a time zone (use an IANA name like Europe/Berlin or UTC)`);
  }
  try {
    parseSelector(w.selector, `${where}.selector`);
  } catch (err) {
    throw new WindowError((err as Error).message);
  }
}

const formats = new Map<string, Intl.DateTimeFormat>();

/** Minutes since local midnight in a time zone. */
export function localMinutes(nowMs: number, timeZone: string): number {
  let f = formats.get(timeZone);
  if (f === undefined) {
    f = new Intl.DateTimeFormat('en-GB', { timeZone, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
    if (formats.size < 100) formats.set(timeZone, f);
  }
  const parts = f.formatToParts(new Date(nowMs));
  const hour = Number(parts.find((p) => p.type === 'hour')?.value);
  const minute = Number(parts.find((p) => p.type === 'minute')?.value);
  return hour * 60 + minute;
}

/** Inside [from, to) in local time; a window from 22:00 to 05:00 spans midnight; from == to is all day. */
export function insideWindow(nowMs: number, w: MaintenanceWindow): boolean {
  const now = localMinutes(nowMs, w.timeZone);
  const from = minutes(w.from, 'from');
  const to = minutes(w.to, 'to');
  if (from === to) return true;
  return from < to ? now >= from && now < to : now >= from || now < to;
}

/** May this gateway be told now? Every window whose selector matches it must be open. */
export function mayNotifyNow(nowMs: number, windows: readonly MaintenanceWindow[], labels: Labels): boolean {
  return windows.every((w) => !matches(parseSelector(w.selector), labels) || insideWindow(nowMs, w));
}
