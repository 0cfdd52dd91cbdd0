import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ProtocolError } from '../../../../fleet/protocol/errors.js';
import {
  ANNOUNCEMENT_LIMITS,
  MAX_ANNOUNCEMENT_BYTES,
  MAX_CHUNK_ACK_BYTES,
  MAX_CHUNK_COUNT,
  MAX_INVITATION_BYTES,
  decodeChunkAck,
  decodeRoundAnnouncement,
  decodeRoundInvitation,
  encodeChunkAck,
  encodeRoundAnnouncement,
  encodeRoundInvitation,
  type ChunkAckMessage,
  type RoundAnnouncementMessage,
  type RoundInvitationMessage,
} from '../../../../fleet/protocol/federated/index.js';
import { announcement, chunkAck, invitation } from './control-arbitraries.js';

const enc = (v: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(v));
const text = (b: Uint8Array): string => new TextDecoder().decode(b);
const CODES = ['E_PAYLOAD_DECODE', 'E_PAYLOAD_INVALID', 'E_PAYLOAD_TOO_LARGE'];

/** The worked examples of PROTOCOL.md ("Federated rounds"), byte for byte. */
const EXAMPLE_ANNOUNCEMENT =
  '{"v":1,"task":"press-ae","round":12,"model":{"name":"anomaly-press","release":7,"version":"2026.11.30-r11","sha256":"6c09f1fa3896e8067afa193dabf0412b17ce8ecf8c657baff000b3785108449a","fetch":{"type":"tuf","target":"models/anomaly-press/7/model.onnx"}},"localEpochs":2,"learningRate":0.001,"clipNorm":1.5,"proximalMu":0.01,"quantisation":{"type":"top-k","density":0.25},"secureAggregation":false,"openedAtMs":1795530000000,"deadlineAtMs":1795530600000}';
const EXAMPLE_SECURE_QUANTISATION = '{"type":"int8","scale":0.0078125}';
const EXAMPLE_INVITATION = '{"v":1,"task":"press-ae","round":12,"gateway":"press-line-1","nonce":"9f86d081884c7d659a2feaa0c55ad015"}';
const EXAMPLE_ACK = '{"v":1,"id":"press-ae.12","sha":"a3f1e2d4c5b6a7980f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a6978","status":"missing","missing":[3,7,8]}';

const GOOD: RoundAnnouncementMessage = JSON.parse(EXAMPLE_ANNOUNCEMENT) as RoundAnnouncementMessage;

/** Runs `f` and returns the ProtocolError it throws (fails the test on anything else). */
function refusal(f: () => unknown): ProtocolError {
  try {
    f();
  } catch (err) {
    expect(err).toBeInstanceOf(ProtocolError);
    return err as ProtocolError;
  }
  throw new Error('expected a refusal, got a message');
}

describe('federated round control messages: worked examples', () => {
  it('decode the PROTOCOL.md examples, and encode them back to the same bytes', () => {
    const a = decodeRoundAnnouncement(new TextEncoder().encode(EXAMPLE_ANNOUNCEMENT));
    expect(a.quantisation).toEqual({ type: 'top-k', density: 0.25 });
    expect(a.deadlineAtMs - a.openedAtMs).toBe(600_000);
    expect(text(encodeRoundAnnouncement(a))).toBe(EXAMPLE_ANNOUNCEMENT);
    const secure = { ...a, proximalMu: null, quantisation: JSON.parse(EXAMPLE_SECURE_QUANTISATION) as RoundAnnouncementMessage['quantisation'], secureAggregation: true };
    expect(decodeRoundAnnouncement(encodeRoundAnnouncement(secure))).toEqual(secure);
    const inv = decodeRoundInvitation(new TextEncoder().encode(EXAMPLE_INVITATION), 'press-line-1');
    expect(text(encodeRoundInvitation(inv))).toBe(EXAMPLE_INVITATION);
    const ack = decodeChunkAck(new TextEncoder().encode(EXAMPLE_ACK));
    expect(ack.missing).toEqual([3, 7, 8]);
    expect(text(encodeChunkAck(ack))).toBe(EXAMPLE_ACK);
  });
});

describe('federated round control messages: roundtrip', () => {
  it('an announcement decodes to itself, within its byte bound', () => {
    fc.assert(
      fc.property(announcement, (a) => {
        const bytes = encodeRoundAnnouncement(a);
        expect(bytes.length).toBeLessThanOrEqual(MAX_ANNOUNCEMENT_BYTES);
        expect(decodeRoundAnnouncement(bytes)).toEqual(a);
      }),
    );
  });

  it('an invitation decodes to itself, and is refused by any gateway but its own', () => {
    fc.assert(
      fc.property(invitation, fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/), (m, other) => {
        const bytes = encodeRoundInvitation(m);
        expect(decodeRoundInvitation(bytes)).toEqual(m);
        expect(decodeRoundInvitation(bytes, m.gateway)).toEqual(m);
        if (other !== m.gateway) expect(refusal(() => decodeRoundInvitation(bytes, other)).message).toMatch(/^round invitation\.gateway: addressed to/);
      }),
    );
  });

  it('a chunk ack decodes to itself', () => {
    fc.assert(
      fc.property(chunkAck, (m) => {
        expect(decodeChunkAck(encodeChunkAck(m))).toEqual(m);
      }),
    );
  });

  it('the largest ack (every index of the largest update) fits its byte bound', () => {
    const all: ChunkAckMessage = { v: 1, id: 'x'.repeat(128), sha: 'f'.repeat(64), status: 'missing', missing: Array.from({ length: MAX_CHUNK_COUNT }, (_, i) => i) };
    const bytes = encodeChunkAck(all);
    expect(bytes.length).toBeLessThanOrEqual(MAX_CHUNK_ACK_BYTES);
    expect(decodeChunkAck(bytes)).toEqual(all);
  });
});

describe('federated round control messages: anything else is refused with a coded error only', () => {
  const decoders: [string, (b: Uint8Array) => unknown][] = [
    ['round announcement', decodeRoundAnnouncement],
    ['round invitation', (b) => decodeRoundInvitation(b)],
    ['chunk ack', decodeChunkAck],
  ];

  it('arbitrary bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2048 }), (bytes) => {
        for (const [what, decode] of decoders) {
          const err = refusal(() => decode(bytes));
          expect(CODES).toContain(err.code);
          expect(err.message.startsWith(what)).toBe(true);
        }
      }),
    );
  });

  it('arbitrary JSON, and good messages with one field replaced by arbitrary JSON', () => {
    const good = { 'round announcement': GOOD, 'round invitation': JSON.parse(EXAMPLE_INVITATION) as RoundInvitationMessage, 'chunk ack': JSON.parse(EXAMPLE_ACK) as ChunkAckMessage };
    // The good messages themselves are in the mix, so the accepting branch runs on every run.
    const values = fc.oneof(
      fc.jsonValue(),
      fc.constantFrom(...Object.entries(good)).map(([which, value]) => ({ which, value })),
      fc.record({ which: fc.constantFrom(...Object.keys(good)), key: fc.string({ maxLength: 20 }), value: fc.jsonValue() }).map(({ which, key, value }) => ({ which, value: { ...good[which as keyof typeof good], [key]: value } })),
      fc.record({ which: fc.constantFrom(...Object.keys(good)), value: fc.jsonValue() }).chain(({ which, value }) =>
        fc.constantFrom(...Object.keys(good[which as keyof typeof good])).map((key) => ({ which, value: { ...good[which as keyof typeof good], [key]: value } })),
      ),
    );
    let accepted = 0;
    fc.assert(
      fc.property(values, (v) => {
        const { which, value } = typeof v === 'object' && v !== null && 'which' in v && typeof v.which === 'string' ? (v as { which: string; value: unknown }) : { which: undefined, value: v };
        for (const [what, decode] of decoders) {
          if (which !== undefined && which !== what) continue;
          let m: unknown;
          try {
            m = decode(enc(value));
          } catch (err) {
            expect(err).toBeInstanceOf(ProtocolError);
            expect((err as ProtocolError).code).toBe('E_PAYLOAD_INVALID');
            expect((err as ProtocolError).message.startsWith(what)).toBe(true);
            continue;
          }
          accepted += 1;
          // What is accepted is well formed: it reads back as itself through the encoder.
          expect(decode(new TextEncoder().encode(JSON.stringify(m)))).toEqual(m);
        }
      }),
      { numRuns: 300 },
    );
    expect(accepted).toBeGreaterThan(0);
  });

  it('more bytes than the bound, before parsing', () => {
    const bounds: [(b: Uint8Array) => unknown, number][] = [
      [decodeRoundAnnouncement, MAX_ANNOUNCEMENT_BYTES],
      [(b) => decodeRoundInvitation(b), MAX_INVITATION_BYTES],
      [decodeChunkAck, MAX_CHUNK_ACK_BYTES],
    ];
    for (const [decode, max] of bounds) {
      expect(refusal(() => decode(new Uint8Array(max + 1).fill(0x20))).code).toBe('E_PAYLOAD_TOO_LARGE');
    }
  });
});

describe('federated round control messages: bounds, each refusal naming its field', () => {
  const L = ANNOUNCEMENT_LIMITS;
  const announce = (patch: Record<string, unknown>): Uint8Array => enc({ ...GOOD, ...patch });
  const model = (patch: Record<string, unknown>): Record<string, unknown> => ({ model: { ...GOOD.model, ...patch } });

  it('refuses an announcement out of bounds', () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ v: 2 }, 'v'],
      [{ task: 'a/b' }, 'task'],
      [{ task: '+' }, 'task'],
      [{ round: -1 }, 'round'],
      [{ round: 1.5 }, 'round'],
      [{ round: Number.MAX_SAFE_INTEGER + 2 }, 'round'],
      [model({ name: 'Press' }), 'model.name'],
      [model({ release: 0 }), 'model.release'],
      [model({ version: '' }), 'model.version'],
      [model({ version: 'x'.repeat(33) }), 'model.version'],
      [model({ sha256: 'A'.repeat(64) }), 'model.sha256'],
      [model({ sha256: 'a'.repeat(63) }), 'model.sha256'],
      [model({ fetch: { type: 'http', target: 'x' } }), 'model.fetch.type'],
      [model({ fetch: { type: 'tuf', target: '../../etc passwd' } }), 'model.fetch.target'],
      [model({ extra: 1 }), 'model.extra'],
      [{ localEpochs: 0 }, 'localEpochs'],
      [{ localEpochs: L.maxLocalEpochs + 1 }, 'localEpochs'],
      [{ learningRate: 0 }, 'learningRate'],
      [{ learningRate: L.maxLearningRate * 1.5 }, 'learningRate'],
      [{ learningRate: '0.1' }, 'learningRate'],
      [{ clipNorm: 0 }, 'clipNorm'],
      [{ clipNorm: 1e10 }, 'clipNorm'],
      [{ proximalMu: 0 }, 'proximalMu'],
      [{ proximalMu: 11 }, 'proximalMu'],
      [{ quantisation: { type: 'int4' } }, 'quantisation.type'],
      [{ quantisation: { type: 'top-k', density: 1 } }, 'quantisation.density'],
      [{ quantisation: { type: 'top-k', density: 0 } }, 'quantisation.density'],
      [{ quantisation: { type: 'top-k' } }, 'quantisation.density'],
      [{ quantisation: { type: 'top-k', density: 0.5, scale: 0.5 } }, 'quantisation.scale'],
      [{ quantisation: { type: 'int8' } }, 'quantisation.scale'],
      [{ quantisation: { type: 'int8', scale: null, density: 0.5 } }, 'quantisation.density'],
      [{ quantisation: { type: 'int8', scale: 0.1 } }, 'quantisation.scale'], // 0.1 is no float32
      [{ quantisation: { type: 'int8', scale: 0 } }, 'quantisation.scale'],
      [{ quantisation: { type: 'int8', scale: 3e36 } }, 'quantisation.scale'],
      [{ secureAggregation: true }, 'quantisation'], // with top-k
      [{ secureAggregation: true, quantisation: { type: 'int8', scale: null } }, 'quantisation'],
      [{ secureAggregation: 'yes' }, 'secureAggregation'],
      [{ openedAtMs: -1 }, 'openedAtMs'],
      [{ deadlineAtMs: 8.64e15 + 1 }, 'deadlineAtMs'],
      [{ deadlineAtMs: GOOD.openedAtMs + L.minRoundMs - 1 }, 'deadlineAtMs'],
      [{ deadlineAtMs: GOOD.openedAtMs + L.maxRoundMs + 1 }, 'deadlineAtMs'],
      [{ deadlineAtMs: GOOD.openedAtMs - 1 }, 'deadlineAtMs'],
      [{ gateways: ['press-line-1'] }, 'gateways'], // the sample is secret: no key may carry it
    ];
    for (const [patch, field] of cases) {
      const err = refusal(() => decodeRoundAnnouncement(announce(patch)));
      expect(err.code, JSON.stringify(patch)).toBe('E_PAYLOAD_INVALID');
      expect(err.message, JSON.stringify(patch)).toMatch(new RegExp(`^round announcement\\.${field.replace(/\./g, '\\.')}: `));
    }
    const { clipNorm: _gone, ...noClip } = GOOD;
    expect(refusal(() => decodeRoundAnnouncement(enc(noClip))).message).toMatch(/^round announcement\.clipNorm: .*required/);
  });

  it('takes an announcement at each bound', () => {
    for (const patch of [
      { round: 0, openedAtMs: 0, deadlineAtMs: L.minRoundMs },
      { round: Number.MAX_SAFE_INTEGER },
      { openedAtMs: L.maxTimeMs - L.maxRoundMs, deadlineAtMs: L.maxTimeMs },
      { localEpochs: 1 },
      { localEpochs: L.maxLocalEpochs, learningRate: L.maxLearningRate, clipNorm: L.maxClipNorm, proximalMu: L.maxProximalMu },
      { clipNorm: L.minClipNorm, proximalMu: null, learningRate: Number.MIN_VALUE },
      { secureAggregation: true, quantisation: { type: 'int8', scale: 2.6793883890187504e36 } },
      { quantisation: { type: 'int8', scale: null } },
    ]) {
      const a = { ...GOOD, ...patch } as RoundAnnouncementMessage;
      expect(decodeRoundAnnouncement(encodeRoundAnnouncement(a))).toEqual(a);
    }
  });

  it('refuses to encode an announcement a gateway would refuse', () => {
    expect(refusal(() => encodeRoundAnnouncement({ ...GOOD, learningRate: Number.NaN })).message).toMatch(/^round announcement\.learningRate: /);
    expect(refusal(() => encodeRoundAnnouncement({ ...GOOD, secureAggregation: true })).message).toMatch(/^round announcement\.quantisation: secure aggregation/);
  });

  it('refuses an invitation out of bounds', () => {
    const good = JSON.parse(EXAMPLE_INVITATION) as Record<string, unknown>;
    for (const [patch, field] of [
      [{ v: 0 }, 'v'],
      [{ task: '' }, 'task'],
      [{ round: -1 }, 'round'],
      [{ gateway: 'a/+' }, 'gateway'],
      [{ gateway: 'x'.repeat(65) }, 'gateway'],
      [{ nonce: 'f'.repeat(31) }, 'nonce'],
      [{ nonce: 'F'.repeat(32) }, 'nonce'],
      [{ deadlineAtMs: 1 }, 'deadlineAtMs'],
    ] as const) {
      const err = refusal(() => decodeRoundInvitation(enc({ ...good, ...patch })));
      expect(err.code).toBe('E_PAYLOAD_INVALID');
      expect(err.message).toMatch(new RegExp(`^round invitation\\.${field}: `));
    }
  });

  it('refuses a chunk ack out of bounds', () => {
    const good = JSON.parse(EXAMPLE_ACK) as Record<string, unknown>;
    for (const [patch, field] of [
      [{ id: '.hidden' }, 'id'],
      [{ id: 'x'.repeat(129) }, 'id'],
      [{ sha: 'z'.repeat(64) }, 'sha'],
      [{ status: 'partial' }, 'status'],
      [{ missing: [] }, 'missing'],
      [{ status: 'complete' }, 'missing'],
      [{ status: 'unknown' }, 'missing'],
      [{ missing: [3, 3] }, 'missing\\[1\\]'],
      [{ missing: [7, 3] }, 'missing\\[1\\]'],
      [{ missing: [-1] }, 'missing\\[0\\]'],
      [{ missing: [MAX_CHUNK_COUNT] }, 'missing\\[0\\]'],
      [{ missing: [0.5] }, 'missing\\[0\\]'],
      [{ missing: Array.from({ length: MAX_CHUNK_COUNT + 1 }, () => 0) }, 'missing'],
    ] as const) {
      const err = refusal(() => decodeChunkAck(enc({ ...good, ...patch })));
      expect(err.code).toBe('E_PAYLOAD_INVALID');
      expect(err.message, JSON.stringify(patch).slice(0, 80)).toMatch(new RegExp(`^chunk ack\\.${field}: `));
    }
    expect(decodeChunkAck(enc({ ...good, status: 'complete', missing: [] })).status).toBe('complete');
  });
});
