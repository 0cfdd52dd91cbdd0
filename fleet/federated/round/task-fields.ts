import { taskError } from './errors.js';

/** Readers for a task's fields: each one names the field it refuses (E_FEDERATED_TASK). */

export type Fields = Readonly<Record<string, unknown>>;

export const show = (value: unknown): string => {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}...` : value);
  if (typeof value === 'object') return 'an object';
  return String(value);
};

/** A plain mapping with only `known` keys (a misspelt key is refused, not ignored). */
export function mapping(value: unknown, field: string, known: readonly string[], keyField = (key: string): string => `${field}.${key}`): Fields {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw taskError(field, `expected a mapping, got ${show(value)}`);
  for (const key of Object.keys(value)) {
    if (!known.includes(key)) throw taskError(keyField(key), `unknown key (known: ${known.join(', ')})`);
  }
  return value as Fields;
}

export const at = (parent: string, key: string): string => (parent === '' ? key : `${parent}.${key}`);

export function integerField(value: unknown, field: string, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) throw taskError(field, `expected an integer from ${min} to ${max}, got ${show(value)}`);
  return value;
}

/** A finite number in (min, max] when `openMin`, else [min, max]. */
export function numberField(value: unknown, field: string, min: number, max: number, openMin: boolean, why = ''): number {
  const ok = typeof value === 'number' && Number.isFinite(value) && (openMin ? value > min : value >= min) && value <= max;
  if (!ok) throw taskError(field, `expected a number ${openMin ? 'above' : 'from'} ${min} ${openMin ? 'and at most' : 'to'} ${max}${why}, got ${show(value)}`);
  return value;
}

export function stringField(value: unknown, field: string, pattern: RegExp, describe: string): string {
  if (typeof value !== 'string' || !pattern.test(value)) throw taskError(field, `expected ${describe}, got ${show(value)}`);
  return value;
}

export function booleanField(value: unknown, field: string): boolean {
  if (typeof value !== 'boolean') throw taskError(field, `expected true or false, got ${show(value)}`);
  return value;
}

export function required(fields: Fields, key: string, parent = ''): unknown {
  const value = fields[key];
  if (value === undefined) throw taskError(at(parent, key), 'is required');
  return value;
}
