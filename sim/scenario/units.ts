/**
 * The human units a scenario file is written in: times (`30s`, `2min`, `1h30m`, `250ms`) and
 * sizes (`2MiB`, `512KiB`, `1.5GB`). Written here rather than taken from `ms` or `bytes`:
 * `ms` reads a bare `30` as 30 milliseconds and accepts negatives, and `bytes` reads `MB` as
 * 2^20; in a scenario a bare number is ambiguous (seconds? milliseconds?), so a unit is
 * required, and `MB`/`MiB` mean what SI and IEC say.
 */

export class UnitError extends Error {
  readonly code = 'E_SCENARIO_UNIT';
  constructor(message: string) {
    super(message);
    this.name = 'UnitError';
  }
}

const DURATION_UNITS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, min: 60_000, h: 3_600_000 };
const SIZE_UNITS: Readonly<Record<string, number>> = {
  B: 1,
  kB: 1e3,
  KB: 1e3,
  MB: 1e6,
  GB: 1e9,
  TB: 1e12,
  KiB: 2 ** 10,
  MiB: 2 ** 20,
  GiB: 2 ** 30,
  TiB: 2 ** 40,
};

/** The forms a duration takes, for messages. */
export const DURATION_FORMS = 'a time with a unit like 250ms, 30s, 2min (or 2m), 1h, or parts like 1m30s';
export const SIZE_FORMS = 'a size with a unit like 512KiB, 2MiB, 1GiB (IEC, powers of 2) or 500kB, 2MB (SI, powers of 10), or a count of bytes like 65536B';

const NUMBER = '(\\d+(?:\\.\\d+)?)';
const durationPart = new RegExp(`${NUMBER}\\s*(ms|min|s|m|h)`, 'y');

/** Longest text read: a scenario's times are short; a megabyte of digits is not a time. */
const MAX_TEXT = 64;

/**
 * `30s` -> 30000. Parts add up, largest unit first (`1h30m`, `2m 15s`). A whole number of
 * milliseconds at most Number.MAX_SAFE_INTEGER; throws UnitError otherwise.
 */
export function parseDuration(text: string): number {
  const t = text.trim();
  if (t === '' || t.length > MAX_TEXT) throw new UnitError(`expected ${DURATION_FORMS}`);
  let total = 0;
  let lastScale = Infinity;
  durationPart.lastIndex = 0;
  let at = 0;
  while (at < t.length) {
    durationPart.lastIndex = at;
    const m = durationPart.exec(t);
    if (m === null) throw new UnitError(/^\d+(\.\d+)?$/.test(t) ? `expected ${DURATION_FORMS}; a bare number has no unit` : `expected ${DURATION_FORMS}`);
    const scale = DURATION_UNITS[m[2] as string] as number;
    if (scale >= lastScale) throw new UnitError(`expected ${DURATION_FORMS}; parts go from the largest unit to the smallest, each once`);
    lastScale = scale;
    total += Number(m[1]) * scale;
    at = durationPart.lastIndex;
    while (t[at] === ' ') at += 1;
  }
  return wholeUnits(total, 'millisecond', DURATION_FORMS);
}

/** `2MiB` -> 2097152. A whole number of bytes; throws UnitError otherwise. */
export function parseSize(text: string): number {
  const t = text.trim();
  const m = t.length <= MAX_TEXT ? new RegExp(`^${NUMBER}\\s*([A-Za-z]+)$`).exec(t) : null;
  const unit = m === null ? undefined : SIZE_UNITS[m[2] as string];
  if (m === null || unit === undefined) {
    const hint = /^\d+(\.\d+)?$/.test(t) ? '; a bare number has no unit' : m !== null ? `; unknown unit ${JSON.stringify(m[2])}` : '';
    throw new UnitError(`expected ${SIZE_FORMS}${hint}`);
  }
  return wholeUnits(Number(m[1]) * unit, 'byte', SIZE_FORMS);
}

function wholeUnits(value: number, what: string, forms: string): number {
  // 1.5s is 1500 ms exactly, but 0.1 * 3 leaves float dust: round to the unit when within it.
  const rounded = Math.round(value);
  if (Math.abs(value - rounded) > 1e-6 * Math.max(1, Math.abs(value))) throw new UnitError(`expected ${forms}; ${value} is not a whole ${what}`);
  if (!Number.isSafeInteger(rounded)) throw new UnitError(`expected ${forms}; too large`);
  return rounded;
}

/** 90000 -> `1m30s`: the shortest text parseDuration reads back to the same value. */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0s';
  const parts: string[] = [];
  let rest = ms;
  for (const [unit, scale] of [['h', 3_600_000], ['m', 60_000], ['s', 1000], ['ms', 1]] as const) {
    const n = Math.floor(rest / scale);
    if (n > 0) parts.push(`${n}${unit}`);
    rest -= n * scale;
  }
  return parts.join('');
}

/** 2097152 -> `2.0 MiB`, for people (not read back). */
export function formatSize(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = bytes;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i += 1;
  }
  return i === 0 ? `${bytes} B` : `${v.toFixed(1)} ${units[i] as string}`;
}
