import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../../runtime/config/load.js';
import { decodeConfigText, firstInvalidUtf8, printable } from '../../../runtime/config/text-check.js';
import { ConfigError } from '../../../runtime/errors.js';
import { builtinRegistry } from '../../../runtime/plugins.js';

/** Bytes a terminal acts on: C0 controls but newline, DEL, C1 controls. */
// eslint-disable-next-line no-control-regex
const RAW_CONTROL = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;

describe('garbage in a config is named, never echoed raw', () => {
  it('escapes control, bidi and replacement characters', () => {
    expect(printable('a\u001b[31mb\u0007\u009b\u202e\ufffd')).toBe('a\\x1b[31mb\\x07\\x9b\\u202e\\ufffd');
    expect(printable('plain text: ok, "ü" é 漢字')).toBe('plain text: ok, "ü" é 漢字');
  });

  it('finds the first byte that is not UTF-8, as the standard decoder does', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        let valid = true;
        try {
          new TextDecoder('utf-8', { fatal: true }).decode(bytes);
        } catch {
          valid = false;
        }
        expect(firstInvalidUtf8(bytes) === -1).toBe(valid);
      }),
      { numRuns: 2000 },
    );
    expect(decodeConfigText(Buffer.from('a: 1\nb: "\xff"\n', 'latin1')).problem).toBe('line 2, byte 5 of the line: not UTF-8 text (byte 0xff); save the config as UTF-8');
  });

  it('never throws anything but a ConfigError, and no problem line carries a raw control character', () => {
    const registry = builtinRegistry();
    const prefix = 'gateway:\n  id: gw-1\n  dataDir: /tmp/x\nuplink:\n  url: mqtt://h:1883\n';
    fc.assert(
      fc.property(fc.oneof(fc.string({ unit: 'binary', maxLength: 80 }), fc.string({ unit: 'binary', maxLength: 40 }).map((s) => `${prefix}${s}: 1\n`), fc.string({ unit: 'binary', maxLength: 40 }).map((s) => `${prefix}log: { level: ${JSON.stringify(s)} }\n`)), (text) => {
        try {
          parseConfig(text, 'fuzz.yaml', registry);
        } catch (err) {
          expect(err).toBeInstanceOf(ConfigError);
          for (const line of (err as ConfigError).problems) expect(line).not.toMatch(RAW_CONTROL);
        }
      }),
      { numRuns: 500 },
    );
  });
});
