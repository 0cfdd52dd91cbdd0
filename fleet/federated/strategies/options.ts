import { taskError } from './errors.js';

/**
 * Reading a task's options for one rule: a mapping (or nothing) with only the keys the rule
 * knows, so a misspelt option is refused instead of silently left at its default.
 */
export function optionsObject(rule: string, raw: unknown, known: readonly string[]): Readonly<Record<string, unknown>> {
  if (raw === undefined || raw === null) return {};
  if (typeof raw !== 'object' || Array.isArray(raw)) throw taskError(`${rule}: options must be a mapping, got ${Array.isArray(raw) ? 'a list' : typeof raw}`);
  const options = raw as Readonly<Record<string, unknown>>;
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) throw taskError(`${rule}: unknown option '${key}'${known.length === 0 ? ' (it takes none)' : ` (known: ${known.join(', ')})`}`);
  }
  return options;
}

/** A number option: absent gives `fallback` (undefined: required). */
export function numberOption(rule: string, options: Readonly<Record<string, unknown>>, key: string, fallback: number | undefined): number {
  const value = options[key];
  if (value === undefined) {
    if (fallback === undefined) throw taskError(`${rule}: options.${key} is required`);
    return fallback;
  }
  if (typeof value !== 'number' || !Number.isFinite(value)) throw taskError(`${rule}: options.${key} must be a finite number, got ${typeof value === 'number' ? String(value) : typeof value}`);
  return value;
}

/** An integer option of at least `min`. */
export function integerOption(rule: string, options: Readonly<Record<string, unknown>>, key: string, min: number, fallback: number | undefined): number {
  const value = numberOption(rule, options, key, fallback);
  if (!Number.isInteger(value) || value < min) throw taskError(`${rule}: options.${key} must be an integer of at least ${min}, got ${value}`);
  return value;
}
