/**
 * Class names a model carries in its ONNX metadata (metadata_props), so events say `person`
 * rather than `class0` without the names pasted into the config:
 * - `names`: Ultralytics exports (YOLOv5/v8/v11) write `str(model.names)`, the repr of a
 *   Python dict, `{0: 'person', 1: 'bicycle', ...}`; a name with an apostrophe is written in
 *   double quotes (`"people's"`), one with both quote kinds escaped (`'a\'b"c'`). JSON
 *   (`{"0": "person"}`) and a Python or JSON list (`['person', ...]`) are read too.
 * - `classNames`: this repo's own models, comma-separated (`part,defective-part,background`).
 */
export function modelClassNames(metadata: Readonly<Record<string, string>>): { names: string[]; key: string } | { error: string; key: string } | undefined {
  const names = metadata['names'];
  if (names !== undefined) {
    try {
      return { names: parseClassNames(names), key: 'names' };
    } catch (err) {
      return { error: (err as Error).message, key: 'names' };
    }
  }
  const own = metadata['classNames'];
  if (own !== undefined && own.length > 0) return { names: own.split(','), key: 'classNames' };
  return undefined;
}

class Cursor {
  at = 0;
  constructor(readonly text: string) {}

  fail(what: string): never {
    const near = JSON.stringify(this.text.slice(this.at, this.at + 20));
    throw new Error(`class names: expected ${what} at character ${this.at}, got ${this.at >= this.text.length ? 'the end' : near}`);
  }

  space(): void {
    while (this.at < this.text.length && /\s/.test(this.text[this.at] as string)) this.at += 1;
  }

  peek(): string | undefined {
    this.space();
    return this.text[this.at];
  }

  take(c: string): boolean {
    if (this.peek() !== c) return false;
    this.at += 1;
    return true;
  }

  expect(c: string): void {
    if (!this.take(c)) this.fail(`"${c}"`);
  }
}

const SIMPLE_ESCAPES: Readonly<Record<string, string>> = { '\\': '\\', "'": "'", '"': '"', n: '\n', t: '\t', r: '\r', a: '\x07', b: '\b', f: '\f', v: '\v', '/': '/', '\n': '' };
const HEX_ESCAPES: Readonly<Record<string, number>> = { x: 2, u: 4, U: 8 };

/** A Python or JSON string literal (single or double quotes, the escapes of either). */
function stringLiteral(c: Cursor): string {
  const quote = c.peek();
  if (quote !== "'" && quote !== '"') c.fail('a quoted name');
  c.at += 1;
  let out = '';
  for (;;) {
    const ch = c.text[c.at];
    if (ch === undefined) c.fail(`the closing ${quote}`);
    c.at += 1;
    if (ch === quote) return out;
    if (ch !== '\\') {
      out += ch;
      continue;
    }
    const e = c.text[c.at];
    if (e === undefined) c.fail('an escape');
    c.at += 1;
    const simple = SIMPLE_ESCAPES[e];
    const hex = HEX_ESCAPES[e];
    if (simple !== undefined) out += simple;
    else if (hex !== undefined) {
      const digits = c.text.slice(c.at, c.at + hex);
      if (!new RegExp(`^[0-9a-fA-F]{${hex}}$`).test(digits)) c.fail(`${hex} hex digits after \\${e}`);
      const code = Number.parseInt(digits, 16);
      if (code > 0x10ffff) c.fail('a code point up to U+10FFFF');
      out += String.fromCodePoint(code);
      c.at += hex;
    } else if (/[0-7]/.test(e)) {
      // Python's octal escape: up to three digits.
      let digits = e;
      while (digits.length < 3 && /[0-7]/.test(c.text[c.at] ?? '')) digits += c.text[c.at++] as string;
      out += String.fromCodePoint(Number.parseInt(digits, 8));
    } else {
      // Python keeps an unknown escape as it is.
      out += `\\${e}`;
    }
  }
}

/** A class id: an integer, or (JSON) an integer in quotes. */
function classId(c: Cursor): number {
  const ch = c.peek();
  const text = ch === "'" || ch === '"' ? stringLiteral(c) : (/^-?\d+/.exec(c.text.slice(c.at))?.[0] ?? c.fail('a class id (an integer)'));
  if (ch !== "'" && ch !== '"') c.at += text.length;
  if (!/^\d+$/.test(text)) c.fail(`a class id >= 0, not ${JSON.stringify(text)}`);
  return Number(text);
}

/**
 * The class names of a `names` metadata value, index = class id. The ids must be 0..n-1, each
 * once (in any order). Throws an Error naming what was wrong and where.
 */
export function parseClassNames(text: string): string[] {
  const c = new Cursor(text);
  const names: string[] = [];
  if (c.take('[')) {
    if (!c.take(']')) {
      do names.push(stringLiteral(c));
      while (c.take(',') && c.peek() !== ']');
      c.expect(']');
    }
  } else {
    c.expect('{');
    const byId = new Map<number, string>();
    if (!c.take('}')) {
      do {
        const at = c.at;
        const id = classId(c);
        if (byId.has(id)) {
          c.at = at;
          c.fail(`each class id once (${id} is there twice)`);
        }
        c.expect(':');
        byId.set(id, stringLiteral(c));
      } while (c.take(',') && c.peek() !== '}');
      c.expect('}');
    }
    for (let id = 0; id < byId.size; id += 1) {
      const name = byId.get(id);
      if (name === undefined) throw new Error(`class names: expected class ids 0..${byId.size - 1}, got ${[...byId.keys()].sort((a, b) => a - b).join(', ')}`);
      names.push(name);
    }
  }
  if (c.peek() !== undefined) c.fail('the end');
  return names;
}
