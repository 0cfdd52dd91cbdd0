/**
 * Gateway labels and label selectors, in the form operators know from Kubernetes:
 *
 *   labels:    site=plant-2,line=press,gpu=true
 *   selector:  site=plant-2,line in (press,paint),env!=test,!canary,gpu
 *
 * A selector is a list of requirements that must all hold. Label keys and values are
 * 1-63 characters of letters, digits, `.`, `_`, `-` and `/` (keys), starting with a letter
 * or digit; values may be empty.
 */
export type Labels = Readonly<Record<string, string>>;

export type Requirement =
  | { readonly op: 'eq' | 'neq'; readonly key: string; readonly value: string }
  | { readonly op: 'in' | 'notin'; readonly key: string; readonly values: readonly string[] }
  | { readonly op: 'exists' | 'absent'; readonly key: string };

export type Selector = readonly Requirement[];

export class LabelError extends Error {
  readonly code = 'E_LABELS_INVALID';
  constructor(message: string) {
    super(message);
    this.name = 'LabelError';
  }
}

export const LABEL_KEY_PATTERN = '^[A-Za-z0-9][A-Za-z0-9._/-]{0,62}$';
export const LABEL_VALUE_PATTERN = '^([A-Za-z0-9][A-Za-z0-9._-]{0,62})?$';
const keyRe = new RegExp(LABEL_KEY_PATTERN);
const valueRe = new RegExp(LABEL_VALUE_PATTERN);
/** Labels per gateway at most: enough for site, line, hardware, role, and a few of the operator's own. */
export const MAX_LABELS = 32;

function checkKey(key: string, where: string): string {
  if (!keyRe.test(key)) throw new LabelError(`${where}: label key ${JSON.stringify(key)} must be 1-63 letters, digits, ".", "_", "-" or "/", starting with a letter or digit`);
  return key;
}

function checkValue(value: string, where: string): string {
  if (!valueRe.test(value)) throw new LabelError(`${where}: label value ${JSON.stringify(value)} must be at most 63 letters, digits, ".", "_" or "-", starting with a letter or digit`);
  return value;
}

/** Checks a labels object (from JSON); returns it as Labels. */
export function checkLabels(labels: Readonly<Record<string, unknown>>, where = 'labels'): Labels {
  const entries = Object.entries(labels);
  if (entries.length > MAX_LABELS) throw new LabelError(`${where}: ${entries.length} labels, at most ${MAX_LABELS}`);
  const out: Record<string, string> = {};
  for (const [k, v] of entries) {
    if (typeof v !== 'string') throw new LabelError(`${where}.${k}: expected a string value`);
    out[checkKey(k, where)] = checkValue(v, where);
  }
  return out;
}

/** `k=v,k2=v2` -> labels. Empty text is no labels. */
export function parseLabels(text: string, where = 'labels'): Labels {
  const out: Record<string, string> = {};
  if (text.trim() === '') return out;
  for (const part of text.split(',')) {
    const eq = part.indexOf('=');
    if (eq < 0) throw new LabelError(`${where}: expected key=value, got ${JSON.stringify(part)}`);
    const key = checkKey(part.slice(0, eq).trim(), where);
    if (key in out) throw new LabelError(`${where}: label ${key} given twice`);
    out[key] = checkValue(part.slice(eq + 1).trim(), where);
  }
  return checkLabels(out, where);
}

export function formatLabels(labels: Labels): string {
  return Object.entries(labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
}

/** Splits on commas that are not inside parentheses. */
function splitTop(text: string, where: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < text.length; i += 1) {
    const c = text[i];
    if (c === '(') depth += 1;
    else if (c === ')') {
      depth -= 1;
      if (depth < 0) throw new LabelError(`${where}: unbalanced ")" at ${i}`);
    } else if (c === ',' && depth === 0) {
      parts.push(text.slice(start, i));
      start = i + 1;
    }
  }
  if (depth !== 0) throw new LabelError(`${where}: unbalanced "("`);
  parts.push(text.slice(start));
  return parts;
}

/** Requirements per selector at most. */
const MAX_REQUIREMENTS = 32;

/** Parses a selector; an empty text selects everything. Throws LabelError saying what is wrong. */
export function parseSelector(text: string, where = 'selector'): Selector {
  if (text.length > 4096) throw new LabelError(`${where}: ${text.length} characters, at most 4096`);
  if (text.trim() === '') return [];
  const parts = splitTop(text, where);
  if (parts.length > MAX_REQUIREMENTS) throw new LabelError(`${where}: ${parts.length} requirements, at most ${MAX_REQUIREMENTS}`);
  return parts.map((raw): Requirement => {
    const part = raw.trim();
    const set = /^(\S+)\s+(in|notin)\s*\((.*)\)$/.exec(part);
    if (set !== null) {
      if ((set[3] as string).trim() === '') throw new LabelError(`${where}: ${JSON.stringify(part)} needs at least one value`);
      const values = (set[3] as string).split(',').map((v) => checkValue(v.trim(), where));
      if (values.length === 0) throw new LabelError(`${where}: ${JSON.stringify(part)} needs at least one value`);
      return { op: set[2] === 'in' ? 'in' : 'notin', key: checkKey(set[1] as string, where), values };
    }
    const neq = /^([^!=\s]+)\s*!=\s*(.*)$/.exec(part);
    if (neq !== null) return { op: 'neq', key: checkKey(neq[1] as string, where), value: checkValue((neq[2] as string).trim(), where) };
    const eq = /^([^!=\s]+)\s*==?\s*(.*)$/.exec(part);
    if (eq !== null) return { op: 'eq', key: checkKey(eq[1] as string, where), value: checkValue((eq[2] as string).trim(), where) };
    if (part.startsWith('!')) return { op: 'absent', key: checkKey(part.slice(1).trim(), where) };
    if (part !== '' && !/[\s=!()]/.test(part)) return { op: 'exists', key: checkKey(part, where) };
    throw new LabelError(`${where}: cannot read ${JSON.stringify(part)}; expected key=value, key!=value, key in (a,b), key notin (a,b), key or !key`);
  });
}

export function formatSelector(selector: Selector): string {
  return selector
    .map((r) => {
      switch (r.op) {
        case 'eq':
          return `${r.key}=${r.value}`;
        case 'neq':
          return `${r.key}!=${r.value}`;
        case 'in':
        case 'notin':
          return `${r.key} ${r.op} (${r.values.join(',')})`;
        case 'exists':
          return r.key;
        case 'absent':
          return `!${r.key}`;
      }
    })
    .join(',');
}

/** Does a gateway with these labels satisfy the selector? (`!=` and `notin` hold when the key is absent, as in Kubernetes.) */
export function matches(selector: Selector, labels: Labels): boolean {
  return selector.every((r) => {
    const has = Object.prototype.hasOwnProperty.call(labels, r.key);
    const v = labels[r.key];
    switch (r.op) {
      case 'eq':
        return has && v === r.value;
      case 'neq':
        return !has || v !== r.value;
      case 'in':
        return has && r.values.includes(v as string);
      case 'notin':
        return !has || !r.values.includes(v as string);
      case 'exists':
        return has;
      case 'absent':
        return !has;
    }
  });
}

/**
 * The selector as a SQL condition on a jsonb column, with parameters numbered from
 * `firstParam` (lists go as one JSON parameter: the same on both backends' drivers). Same meaning as `matches` (a contract test checks both on both backends).
 */
export function selectorSql(selector: Selector, column: string, firstParam: number): { where: string; params: unknown[] } {
  const params: unknown[] = [];
  const p = (v: unknown): string => {
    params.push(v);
    return `$${firstParam + params.length - 1}`;
  };
  const conds = selector.map((r) => {
    switch (r.op) {
      case 'eq':
        return `${column} @> ${p(JSON.stringify({ [r.key]: r.value }))}::jsonb`;
      case 'neq':
        return `NOT (${column} @> ${p(JSON.stringify({ [r.key]: r.value }))}::jsonb)`;
      case 'in':
        return `COALESCE((${column} ->> ${p(r.key)}) IN (SELECT jsonb_array_elements_text(${p(JSON.stringify(r.values))}::jsonb)), false)`;
      case 'notin':
        return `NOT COALESCE((${column} ->> ${p(r.key)}) IN (SELECT jsonb_array_elements_text(${p(JSON.stringify(r.values))}::jsonb)), false)`;
      case 'exists':
        return `${column} ? ${p(r.key)}`;
      case 'absent':
        return `NOT (${column} ? ${p(r.key)})`;
    }
  });
  return { where: conds.length === 0 ? 'true' : conds.join(' AND '), params };
}
