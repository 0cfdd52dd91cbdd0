/**
 * A config file is text a person wrote, but what arrives may be a binary, a file in another
 * encoding or text with terminal control codes pasted in. Such bytes are named here (line,
 * column, escaped) and never echoed raw: a raw escape sequence in an error message can
 * rewrite the operator's terminal.
 */

/** Characters shown escaped in messages: C0 and C1 controls, DEL, bidi and line-separator controls, BOM, U+FFFD. */
// eslint-disable-next-line no-control-regex
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff\ufffd]/g;

/** `text` with every unsafe character as `\xNN` or `\uNNNN`, so it prints as it is. */
export function printable(text: string): string {
  return text.replace(UNSAFE, (c) => {
    const code = c.charCodeAt(0);
    return code < 0x100 ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
  });
}

/** Problems reported of one kind at most, so a binary file gives a few lines, not thousands. */
const MAX_PER_KIND = 3;

function position(text: string, index: number): { line: number; col: number } {
  let line = 1;
  let start = 0;
  for (let i = text.indexOf('\n'); i !== -1 && i < index; i = text.indexOf('\n', i + 1)) {
    line += 1;
    start = i + 1;
  }
  return { line, col: index - start + 1 };
}

/**
 * Control characters YAML does not allow (everything below U+0020 but tab, LF and CR; DEL and
 * C1 controls), each as `line L, column C: ...`. A NUL byte means the file is not text at all.
 */
export function controlCharacterProblems(text: string): { problems: string[]; binary: boolean } {
  const nul = text.indexOf('\u0000');
  if (nul !== -1) {
    const at = position(text, nul);
    return { problems: [`line ${at.line}, column ${at.col}: not a text file (a NUL byte); expected a YAML config`], binary: true };
  }
  const problems: string[] = [];
  // eslint-disable-next-line no-control-regex
  const re = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]/g;
  let found = 0;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) {
    found += 1;
    if (found > MAX_PER_KIND) continue;
    const at = position(text, m.index);
    problems.push(`line ${at.line}, column ${at.col}: control character ${printable(m[0])} (YAML allows none; remove it)`);
  }
  if (found > MAX_PER_KIND) problems.push(`... and ${found - MAX_PER_KIND} more control characters`);
  return { problems, binary: false };
}

/** The byte offset of the first byte that is not part of valid UTF-8, or -1. */
export function firstInvalidUtf8(bytes: Uint8Array): number {
  let i = 0;
  while (i < bytes.length) {
    const b = bytes[i] as number;
    let need: number;
    let min: number;
    if (b < 0x80) {
      i += 1;
      continue;
    } else if (b >= 0xc2 && b <= 0xdf) {
      need = 1;
      min = 0x80;
    } else if (b >= 0xe0 && b <= 0xef) {
      need = 2;
      min = 0x800;
    } else if (b >= 0xf0 && b <= 0xf4) {
      need = 3;
      min = 0x10000;
    } else return i;
    let cp = b & (0x3f >> need);
    for (let k = 1; k <= need; k += 1) {
      const c = bytes[i + k];
      if (c === undefined || (c & 0xc0) !== 0x80) return i;
      cp = (cp << 6) | (c & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return i;
    i += need + 1;
  }
  return -1;
}

/** The file as text, or a problem naming where it stops being UTF-8. */
export function decodeConfigText(bytes: Uint8Array): { text: string; problem?: undefined } | { text?: undefined; problem: string } {
  const bad = firstInvalidUtf8(bytes);
  if (bad === -1) {
    const text = new TextDecoder('utf-8', { ignoreBOM: false }).decode(bytes);
    return { text };
  }
  let line = 1;
  let start = 0;
  for (let i = 0; i < bad; i += 1) {
    if (bytes[i] === 0x0a) {
      line += 1;
      start = i + 1;
    }
  }
  const byte = (bytes[bad] as number).toString(16).padStart(2, '0');
  return { problem: `line ${line}, byte ${bad - start + 1} of the line: not UTF-8 text (byte 0x${byte}); save the config as UTF-8` };
}
