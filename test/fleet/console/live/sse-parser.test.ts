import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SseError, SseParser } from '../../../../fleet/console/live/sse-parser.js';
import type { SseEvent } from '../../../../fleet/console/live/sse-parser.js';

function parseAll(chunks: readonly string[]): SseEvent[] {
  const p = new SseParser();
  return chunks.flatMap((c) => p.push(c));
}

/** Cuts text at the given offsets (sorted, deduplicated, inside the text). */
function cut(text: string, offsets: readonly number[]): string[] {
  const at = [...new Set(offsets.map((o) => o % (text.length + 1)))].sort((a, b) => a - b);
  const out: string[] = [];
  let prev = 0;
  for (const o of at) {
    out.push(text.slice(prev, o));
    prev = o;
  }
  out.push(text.slice(prev));
  return out;
}

const lineText = fc.string({ unit: fc.constantFrom('a', 'b', ' ', ':', '{', '"', 'é', '😀', 'x', '1'), maxLength: 12 });
const eol = fc.constantFrom('\n', '\r', '\r\n');
const field = fc.oneof(
  fc.tuple(fc.constant('data'), lineText),
  fc.tuple(fc.constant('event'), fc.constantFrom('hello', 'gateways', 'event', 'rollout', 'resync')),
  fc.tuple(fc.constant('id'), fc.constantFrom('1', '2', '17')),
  fc.tuple(fc.constant(''), lineText), // a comment
);
/** A valid stream: events of fields, each line with any of the three line ends, a blank line after each event. */
const stream = fc
  .array(fc.tuple(fc.array(fc.tuple(field, eol), { minLength: 1, maxLength: 5 }), eol), { maxLength: 8 })
  .map((events) => events.map(([lines, end]) => lines.map(([[k, v], e]) => `${k}: ${v}${e}`).join('') + end).join(''));

describe('SseParser', () => {
  it('reads the events the live stream sends', () => {
    const text = 'event: hello\ndata: {"serverTimeMs":5}\n\n: keep-alive\n\nevent: gateways\ndata: {"items":[]}\n\n';
    expect(parseAll([text])).toEqual([
      { type: 'hello', data: '{"serverTimeMs":5}', lastEventId: '' },
      { type: 'gateways', data: '{"items":[]}', lastEventId: '' },
    ]);
  });

  it('joins data lines, defaults the type, carries the id, ignores a comment and unknown fields', () => {
    const text = 'id: 7\ndata: a\nfoo: bar\n:note\ndata:b\n\ndata\n\nevent: x\n\n';
    expect(parseAll([text])).toEqual([
      { type: 'message', data: 'a\nb', lastEventId: '7' },
      { type: 'message', data: '', lastEventId: '7' },
    ]);
  });

  it('strips a byte order mark at the start and takes CR, LF and CRLF as line ends', () => {
    expect(parseAll(['\uFEFFdata: 1\r\rdata: 2\r\n\r\ndata: 3\n\n'])).toEqual([
      { type: 'message', data: '1', lastEventId: '' },
      { type: 'message', data: '2', lastEventId: '' },
      { type: 'message', data: '3', lastEventId: '' },
    ]);
  });

  it('does not dispatch an event the stream has not finished', () => {
    expect(parseAll(['event: x\ndata: half'])).toEqual([]);
  });

  it('gives the same events for any chunking of a valid stream', () => {
    fc.assert(
      fc.property(stream, fc.array(fc.nat(), { maxLength: 12 }), (text, offsets) => {
        expect(parseAll(cut(text, offsets))).toEqual(parseAll([text]));
      }),
      { numRuns: 500 },
    );
  });

  it('gives the same events fed one character at a time', () => {
    fc.assert(
      fc.property(stream, (text) => {
        expect(parseAll([...text])).toEqual(parseAll([text]));
      }),
    );
  });

  it('never throws on arbitrary text within its bound', () => {
    fc.assert(
      fc.property(fc.array(fc.string({ maxLength: 40 }), { maxLength: 10 }), (chunks) => {
        parseAll(chunks);
      }),
    );
  });

  it('refuses a line or an event past its bound with E_SSE_TOO_LARGE', () => {
    const p = new SseParser(100);
    expect(() => p.push('data: ' + 'x'.repeat(200))).toThrow(SseError);
    const q = new SseParser(100);
    expect(() => q.push('data: 1234567890\n'.repeat(20))).toThrow(/more than 100 characters/);
  });
});
