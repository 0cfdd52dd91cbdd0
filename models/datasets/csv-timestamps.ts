/**
 * Timestamps in sensor logs, told apart by the first row (and the column's unit, when its
 * header has one: `timestamp[ms]`):
 * - ISO 8601: `2026-03-01T08:00:00.250Z`, `2026-03-01 08:00:00`, `+01:00` offsets, a date
 *   alone; without a zone the time is taken as UTC (a log's local time jumps back an hour each
 *   autumn: a zone, or UTC, is what a logger should write).
 * - Numbers since the epoch (or since the log's start: only the differences matter to a model):
 *   the unit from the header (`[s]`, `[ms]`, `[us]`, `[ns]`), else by size: below 1e11 seconds,
 *   below 1e14 milliseconds, below 1e17 microseconds, nanoseconds above (1e11 s is the year 5138,
 *   1e11 ms is 1973). So a log counting milliseconds from 0 needs `[ms]` in its header.
 */
export type EpochUnit = 's' | 'ms' | 'us' | 'ns';

export type TimestampFormat = { readonly kind: 'iso' } | { readonly kind: 'epoch'; readonly unit: EpochUnit; readonly from: 'header' | 'size' };

const MS_PER: Record<EpochUnit, number> = { s: 1000, ms: 1, us: 1e-3, ns: 1e-6 };

const UNIT_ALIASES: Record<string, EpochUnit> = { s: 's', sec: 's', seconds: 's', ms: 'ms', millis: 'ms', milliseconds: 'ms', us: 'us', µs: 'us', microseconds: 'us', ns: 'ns', nanoseconds: 'ns' };

const ISO = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?)?\s*(Z|[+-]\d{2}(?::?\d{2})?)?$/i;

/** The format of a log's timestamps from its first one, or what is wrong. */
export function timestampFormatOf(first: string, headerUnit: string): TimestampFormat | { readonly error: string } {
  const unit = headerUnit.trim().toLowerCase();
  if (unit !== '') {
    const epoch = UNIT_ALIASES[unit];
    if (epoch === undefined) return { error: `timestamp unit [${headerUnit}] unknown: use s, ms, us or ns (or no unit, for ISO 8601 times)` };
    return { kind: 'epoch', unit: epoch, from: 'header' };
  }
  if (isoMs(first) !== undefined) return { kind: 'iso' };
  const v = epochNumber(first);
  if (v === undefined) return { error: `timestamp ${JSON.stringify(first)} is neither ISO 8601 (2026-03-01T08:00:00Z) nor a number since the epoch` };
  const size = Math.abs(v);
  return { kind: 'epoch', unit: size < 1e11 ? 's' : size < 1e14 ? 'ms' : size < 1e17 ? 'us' : 'ns', from: 'size' };
}

/** Milliseconds since the epoch, or undefined when `text` is not a timestamp of `format`. */
export function parseTimestamp(text: string, format: TimestampFormat): number | undefined {
  if (format.kind === 'iso') return isoMs(text);
  const v = epochNumber(text);
  return v === undefined ? undefined : v * MS_PER[format.unit];
}

export function describeTimestampFormat(f: TimestampFormat): string {
  if (f.kind === 'iso') return 'ISO 8601';
  const unit = { s: 'seconds', ms: 'milliseconds', us: 'microseconds', ns: 'nanoseconds' }[f.unit];
  return `${unit} since the epoch (${f.from === 'header' ? "the header's unit" : 'told by their size'})`;
}

function epochNumber(text: string): number | undefined {
  if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(text)) return undefined;
  const v = Number(text);
  return Number.isFinite(v) ? v : undefined;
}

function isoMs(text: string): number | undefined {
  const m = ISO.exec(text);
  if (m === null) return undefined;
  const [, y, mo, d, h = '0', mi = '0', s = '0', frac = '', zone = 'Z'] = m;
  const year = Number(y);
  const month = Number(mo);
  const day = Number(d);
  const hour = Number(h);
  const minute = Number(mi);
  const second = Number(s);
  if (month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || second > 59) return undefined;
  const whole = Date.UTC(year, month - 1, day, hour, minute, second);
  // Date.UTC rolls 31 April over to 1 May: a day that does not exist is not a timestamp.
  if (new Date(whole).getUTCDate() !== day) return undefined;
  let offsetMin = 0;
  if (zone.toUpperCase() !== 'Z') {
    const z = /^([+-])(\d{2}):?(\d{2})?$/.exec(zone);
    if (z === null) return undefined;
    offsetMin = (z[1] === '-' ? -1 : 1) * (Number(z[2]) * 60 + Number(z[3] ?? '0'));
  }
  const fraction = frac === '' ? 0 : Number(`0.${frac}`) * 1000;
  return whole + fraction - offsetMin * 60_000;
}
