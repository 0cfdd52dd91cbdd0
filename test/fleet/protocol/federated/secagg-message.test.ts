import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { cborDecode, cborEncode } from '../../../../fleet/protocol/cbor.js';
import {
  bytesToWords,
  decodeFleetSecAggMessage,
  decodeGatewaySecAggMessage,
  encodeSecAggMessage,
  FederatedError,
  MAX_SECAGG_MESSAGE_BYTES,
  MAX_SECAGG_VECTOR_LENGTH,
  secAggRoundId,
  wordsToBytes,
  type FleetSecAggMessage,
  type GatewaySecAggMessage,
  type SecAggMessage,
} from '../../../../fleet/protocol/federated/index.js';
import { planRound, SecAggClient, SecAggServer } from '../../../../fleet/protocol/secure-aggregation/index.js';
import { seededBytes, seededWords } from '../secure-aggregation/seeded.js';

const TASK = 'press-ae';
const ROUND = 7;
const IDS = ['gw-a', 'gw-b', 'gw-c'];
const LENGTH = 5;

/** Every kind of message, taken from a real three-client round (the protocol's own client and server). */
async function realMessages(): Promise<{ gateway: GatewaySecAggMessage[]; fleet: FleetSecAggMessage[] }> {
  const params = { round: secAggRoundId(TASK, ROUND), clients: IDS, threshold: 2, vectorLength: LENGTH, graph: { type: 'complete' as const } };
  const plan = planRound(params);
  const server = new SecAggServer(plan);
  const clients = IDS.map((id) => new SecAggClient(plan, id, { randomBytes: seededBytes(id) }));
  const head = { task: TASK, round: ROUND };
  const gateway: GatewaySecAggMessage[] = [];
  const fleet: FleetSecAggMessage[] = IDS.map((to) => ({ ...head, step: 'round-params', body: { ...params, to } }));
  for (const c of clients) {
    const m = c.advertise();
    server.receiveAdvertisement(m);
    gateway.push({ ...head, step: 'advertise-keys', body: m });
  }
  const roster = server.closeAdvertising();
  fleet.push({ ...head, step: 'key-roster', body: roster });
  for (const c of clients) {
    const m = await c.shareKeys(roster);
    server.receiveShareKeys(m);
    gateway.push({ ...head, step: 'share-keys', body: m });
  }
  for (const d of server.closeSharing()) {
    fleet.push({ ...head, step: 'share-delivery', body: d });
    const c = clients[IDS.indexOf(d.to)] as SecAggClient;
    c.receiveShares(d);
    const m = c.maskInput(seededWords(d.to, LENGTH));
    server.receiveMaskedInput(m);
    gateway.push({ ...head, step: 'masked-input', body: m });
  }
  for (const r of server.closeMasking()) {
    fleet.push({ ...head, step: 'unmasking-request', body: r });
    const m = (clients[IDS.indexOf(r.to)] as SecAggClient).unmask(r);
    gateway.push({ ...head, step: 'unmasking-response', body: m });
  }
  return { gateway, fleet };
}

/** Plain values for comparison: typed arrays as number lists. */
function plain(m: SecAggMessage): unknown {
  return JSON.parse(JSON.stringify(m, (_k, v: unknown) => (v instanceof Uint8Array || v instanceof Uint32Array ? [...v] : v)));
}

function refusal(f: () => unknown): FederatedError {
  try {
    f();
  } catch (err) {
    expect(err).toBeInstanceOf(FederatedError);
    expect((err as FederatedError).code).toBe('E_FEDERATED_SECAGG');
    return err as FederatedError;
  }
  throw new Error('expected E_FEDERATED_SECAGG');
}

describe('secure-aggregation messages on the wire', () => {
  it('round-trips every step of a real round, each direction only through its own decoder', async () => {
    const { gateway, fleet } = await realMessages();
    expect(new Set(gateway.map((m) => m.step))).toEqual(new Set(['advertise-keys', 'share-keys', 'masked-input', 'unmasking-response']));
    expect(new Set(fleet.map((m) => m.step))).toEqual(new Set(['round-params', 'key-roster', 'share-delivery', 'unmasking-request']));
    for (const m of gateway) {
      const bytes = encodeSecAggMessage(m);
      expect(plain(decodeGatewaySecAggMessage(bytes))).toEqual(plain(m));
      expect(refusal(() => decodeFleetSecAggMessage(bytes)).field).toBe('step');
    }
    for (const m of fleet) {
      const bytes = encodeSecAggMessage(m);
      expect(plain(decodeFleetSecAggMessage(bytes))).toEqual(plain(m));
      expect(refusal(() => decodeGatewaySecAggMessage(bytes)).field).toBe('step');
    }
  });

  it('carries task, round and step in the clear and derives the protocol round id from them', async () => {
    const { gateway } = await realMessages();
    const masked = gateway.find((m) => m.step === 'masked-input') as GatewaySecAggMessage & { step: 'masked-input' };
    const raw = cborDecode(encodeSecAggMessage(masked)) as Record<string, unknown>;
    expect(Object.keys(raw).sort()).toEqual(['from', 'masked', 'round', 'step', 'task', 'v']);
    expect(raw).toMatchObject({ v: 1, step: 'masked-input', task: TASK, round: ROUND, from: masked.body.from });
    // 4 bytes per word, little-endian.
    expect([...(raw['masked'] as Uint8Array)].slice(0, 4)).toEqual([...new Uint8Array(new Uint32Array([masked.body.masked[0] as number]).buffer)]);
    expect(decodeGatewaySecAggMessage(cborEncode({ ...raw, round: 8 })).body.round).toBe(`${TASK}:8`);
  });

  it('names the field that is wrong', async () => {
    const { gateway, fleet } = await realMessages();
    const adv = cborDecode(encodeSecAggMessage(gateway[0] as GatewaySecAggMessage)) as Record<string, unknown>;
    const cases: [Record<string, unknown>, string, RegExp][] = [
      [{ ...adv, v: 2 }, 'v', /version 2/],
      [{ ...adv, task: 'a/b' }, 'task', /task id/],
      [{ ...adv, round: -1 }, 'round', /integer/],
      [{ ...adv, extra: 1 }, 'extra', /unknown key/],
      [{ ...adv, maskPublicKey: new Uint8Array(31) }, 'advertise-keys', /maskPublicKey: expected 32 bytes/],
      [{ ...adv, from: 'a b' }, 'advertise-keys', /from/],
      [{ ...adv, step: 'hello' }, 'step', /advertise-keys, share-keys/],
    ];
    for (const [value, field, message] of cases) {
      const err = refusal(() => decodeGatewaySecAggMessage(cborEncode(value)));
      expect(err.field, JSON.stringify(field)).toBe(field);
      expect(err.message).toMatch(message);
    }
    const masked = cborDecode(encodeSecAggMessage(gateway.find((m) => m.step === 'masked-input') as GatewaySecAggMessage)) as Record<string, unknown>;
    expect(refusal(() => decodeGatewaySecAggMessage(cborEncode({ ...masked, masked: new Uint8Array(7) }))).field).toBe('masked');
    const params = cborDecode(encodeSecAggMessage(fleet[0] as FleetSecAggMessage)) as Record<string, unknown>;
    expect(refusal(() => decodeFleetSecAggMessage(cborEncode({ ...params, to: 'gw-z' }))).message).toMatch(/not among the round's clients/);
    expect(refusal(() => decodeFleetSecAggMessage(cborEncode({ ...params, threshold: 1 }))).message).toMatch(/threshold/);
    expect(refusal(() => decodeGatewaySecAggMessage(new Uint8Array([0xff, 0x00]))).field).toBe('message');
    expect(refusal(() => decodeGatewaySecAggMessage(new Uint8Array(MAX_SECAGG_MESSAGE_BYTES + 1))).message).toMatch(/at most/);
  });

  it('bounds the masked vector so a message fits MAX_SECAGG_MESSAGE_BYTES', () => {
    const body = { round: secAggRoundId(TASK, 1), from: 'gw-a', masked: new Uint32Array(MAX_SECAGG_VECTOR_LENGTH) };
    const bytes = encodeSecAggMessage({ task: TASK, round: 1, step: 'masked-input', body });
    expect(bytes.byteLength).toBeLessThanOrEqual(MAX_SECAGG_MESSAGE_BYTES);
    refusal(() => encodeSecAggMessage({ task: TASK, round: 1, step: 'masked-input', body: { ...body, masked: new Uint32Array(MAX_SECAGG_VECTOR_LENGTH + 1) } }));
  });

  it('round-trips any masked vector, word for word', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 0xffff_ffff }), { minLength: 1, maxLength: 300 }), fc.nat({ max: 1e9 }), (words, round) => {
        const masked = Uint32Array.from(words);
        expect(bytesToWords(wordsToBytes(masked))).toEqual(masked);
        const m = decodeGatewaySecAggMessage(encodeSecAggMessage({ task: TASK, round, step: 'masked-input', body: { round: secAggRoundId(TASK, round), from: 'gw-a', masked } }));
        expect(m.step === 'masked-input' && [...m.body.masked]).toEqual(words);
      }),
    );
  });

  it('throws nothing but E_FEDERATED_SECAGG on arbitrary bytes or CBOR values', async () => {
    const { gateway } = await realMessages();
    const samples = gateway.map((m) => encodeSecAggMessage(m));
    const mutated = fc.tuple(fc.constantFrom(...samples), fc.nat(), fc.integer({ min: 0, max: 255 })).map(([b, i, x]) => {
      const c = Uint8Array.from(b);
      c[i % c.length] = x;
      return c;
    });
    const values = fc.anything().map((v) => {
      try {
        return cborEncode(v);
      } catch {
        return new Uint8Array([0]);
      }
    });
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 300 }), mutated, values), (bytes) => {
        for (const decode of [decodeGatewaySecAggMessage, decodeFleetSecAggMessage]) {
          try {
            decode(bytes);
          } catch (err) {
            expect(err).toBeInstanceOf(FederatedError);
            expect((err as FederatedError).code).toBe('E_FEDERATED_SECAGG');
          }
        }
      }),
      { numRuns: 500 },
    );
  });
});
