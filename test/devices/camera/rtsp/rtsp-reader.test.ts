import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RtspError } from '../../../../devices/camera/rtsp/errors.js';
import { header, MAX_BODY_BYTES, MAX_HEAD_BYTES, RtspReader, type RtspMessage } from '../../../../devices/camera/rtsp/rtsp-reader.js';

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);

type Item = { kind: 'response'; status: number; cseq: number; body: string } | { kind: 'interleaved'; channel: number; payload: Uint8Array } | { kind: 'request'; method: string; cseq: number };

function serialise(item: Item): Uint8Array {
  if (item.kind === 'interleaved') return Uint8Array.of(0x24, item.channel, item.payload.length >> 8, item.payload.length & 0xff, ...item.payload);
  if (item.kind === 'request') return enc(`${item.method} rtsp://127.0.0.1/cam RTSP/1.0\r\nCSeq: ${item.cseq}\r\n\r\n`);
  const body = enc(item.body);
  return new Uint8Array([...enc(`RTSP/1.0 ${item.status} Reason Phrase\r\nCSeq: ${item.cseq}\r\n${body.length > 0 ? `Content-Length: ${body.length}\r\n` : ''}\r\n`), ...body]);
}

function simplify(m: RtspMessage): Item {
  if (m.kind === 'interleaved') return { kind: 'interleaved', channel: m.channel, payload: Uint8Array.from(m.payload) };
  if (m.kind === 'request') return { kind: 'request', method: m.method, cseq: Number(header(m.headers, 'CSeq')) };
  return { kind: 'response', status: m.status, cseq: Number(header(m.headers, 'cseq')), body: new TextDecoder().decode(m.body) };
}

const item: fc.Arbitrary<Item> = fc.oneof(
  fc.record({ kind: fc.constant('response' as const), status: fc.integer({ min: 100, max: 599 }), cseq: fc.nat(), body: fc.string({ maxLength: 300 }) }),
  fc.record({ kind: fc.constant('interleaved' as const), channel: fc.integer({ min: 0, max: 255 }), payload: fc.uint8Array({ maxLength: 3000 }) }),
  fc.record({ kind: fc.constant('request' as const), method: fc.constantFrom('OPTIONS', 'GET_PARAMETER', 'ANNOUNCE'), cseq: fc.nat() }),
);

describe('RTSP reader', () => {
  it('splits responses, server requests and interleaved frames cut anywhere', () => {
    fc.assert(
      fc.property(fc.array(item, { maxLength: 30 }), fc.array(fc.integer({ min: 1, max: 700 }), { minLength: 1, maxLength: 20 }), (items, cuts) => {
        const bytes = new Uint8Array(items.flatMap((i) => [...serialise(i)]));
        const reader = new RtspReader();
        const out: Item[] = [];
        for (let off = 0, k = 0; off < bytes.length; k += 1) {
          const n = cuts[k % cuts.length]!;
          out.push(...reader.push(bytes.subarray(off, off + n)).map(simplify));
          off += n;
        }
        expect(out).toEqual(items);
      }),
      { numRuns: 200 },
    );
  });

  it('reads a header folded over two lines, repeated headers, and LF-only line ends', () => {
    const reader = new RtspReader();
    const [m] = reader.push(enc('RTSP/1.0 401 Unauthorized\nCSeq: 3\nWWW-Authenticate: Digest realm="cam",\n  nonce="abc"\nWWW-Authenticate: Basic realm="cam"\n\n'));
    expect(m).toMatchObject({ kind: 'response', status: 401 });
    if (m?.kind !== 'response') throw new Error('not a response');
    expect(m.headers.get('www-authenticate')).toEqual(['Digest realm="cam", nonce="abc"', 'Basic realm="cam"']);
  });

  it('refuses bytes that are not RTSP, and heads and bodies past their bounds, with E_RTSP_PROTOCOL', () => {
    const code = (f: () => unknown): string | undefined => {
      try {
        f();
      } catch (err) {
        return err instanceof RtspError ? `${err.code}: ${err.message}` : String(err);
      }
      return undefined;
    };
    expect(code(() => new RtspReader().push(Uint8Array.of(0x80, 0x60, 0, 1)))).toMatch(/^E_RTSP_PROTOCOL: .*byte 0x80/);
    expect(code(() => new RtspReader().push(enc('HTTP/1.1 200 OK\r\n\r\n')))).toMatch(/^E_RTSP_PROTOCOL: not an RTSP status or request line/);
    expect(code(() => new RtspReader().push(enc(`RTSP/1.0 200 OK\r\nX: ${'a'.repeat(MAX_HEAD_BYTES)}`)))).toMatch(/^E_RTSP_PROTOCOL: .*head longer than/);
    expect(code(() => new RtspReader().push(enc(`RTSP/1.0 200 OK\r\nContent-Length: ${MAX_BODY_BYTES + 1}\r\n\r\n`)))).toMatch(/^E_RTSP_PROTOCOL: a body of/);
    expect(code(() => new RtspReader().push(enc('RTSP/1.0 200 OK\r\nContent-Length: x\r\n\r\n')))).toMatch(/^E_RTSP_PROTOCOL: a Content-Length/);
    expect(code(() => new RtspReader().push(enc('RTSP/1.0 200 OK\r\nno colon here\r\n\r\n')))).toMatch(/^E_RTSP_PROTOCOL: a header line without a name/);
  });

  it('never throws anything but RtspError on arbitrary bytes', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 200 }), { maxLength: 20 }), (chunks) => {
        const reader = new RtspReader();
        try {
          for (const c of chunks) reader.push(c);
        } catch (err) {
          expect(err).toBeInstanceOf(RtspError);
        }
      }),
    );
  });
});
