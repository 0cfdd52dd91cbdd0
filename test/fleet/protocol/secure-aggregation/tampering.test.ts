import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  checkAdvertiseKeys,
  checkKeyRoster,
  checkMaskedInput,
  checkShareDelivery,
  checkShareKeys,
  checkUnmaskingRequest,
  checkUnmaskingResponse,
  SecAggClient,
  SecAggServer,
  SecureAggregationError,
  type ShareDelivery,
  type UnmaskingResponse,
} from '../../../../fleet/protocol/secure-aggregation/index.js';
import { makePlan, plainSum, runRound } from './round-harness.js';
import { seededWords } from './seeded.js';

const inputsFor = (n: number, label: string, length = 16): Uint32Array[] => Array.from({ length: n }, (_, i) => seededWords(`${label}/${i}`, length));

function flipBit(bytes: Uint8Array, at: number): Uint8Array {
  const out = Uint8Array.from(bytes);
  out[at % out.length] = (out[at % out.length] as number) ^ 1;
  return out;
}

describe('secure aggregation: tampered shares fail', () => {
  it('a client refuses a share box altered on the way, whichever bit, and the round goes on without it', async () => {
    await fc.assert(
      fc.asyncProperty(fc.nat({ max: 1_000 }), async (bit) => {
        const inputs = inputsFor(5, 'box');
        const tamper = (d: ShareDelivery): ShareDelivery => (d.to === 'gw-002' ? { ...d, boxes: d.boxes.map((b, i) => (i === 0 ? { ...b, box: flipBit(b.box, bit) } : b)) } : d);
        const run = await runRound({ clients: 5, threshold: 3, inputs }, {}, { delivery: tamper });
        const err = run.clientErrors.get('gw-002');
        expect(err).toBeInstanceOf(SecureAggregationError);
        expect(err).toMatchObject({ code: 'E_SECAGG', reason: 'tampered-share' });
        // gw-002 sent no masked input: its pairwise masks come off through its mask-key shares.
        expect(run.result.dropped).toEqual(['gw-002']);
        expect(run.result.sum).toEqual(plainSum(inputs, run.result.survivors, 16));
      }),
      { numRuns: 20 },
    );
  });

  it('a client refuses a box the relay took from another recipient (the key and the authenticated data bind it to sender and recipient)', async () => {
    const inputs = inputsFor(4, 'moved');
    let stolen: Uint8Array | undefined;
    const swap = (d: ShareDelivery): ShareDelivery => {
      if (d.to === 'gw-001') stolen = d.boxes.find((b) => b.from === 'gw-000')?.box;
      if (d.to === 'gw-002' && stolen !== undefined) return { ...d, boxes: d.boxes.map((b) => (b.from === 'gw-000' ? { ...b, box: stolen as Uint8Array } : b)) };
      return d;
    };
    const run = await runRound({ clients: 4, threshold: 3, inputs }, {}, { delivery: swap });
    expect(run.clientErrors.get('gw-002')).toMatchObject({ reason: 'tampered-share', message: expect.stringMatching(/from gw-000/) as unknown });
  });

  it('the server drops a revealed share that fails its digest, reports it, and still unmasks with enough good ones', async () => {
    const inputs = inputsFor(5, 'bad-share');
    const corrupt = (r: UnmaskingResponse): UnmaskingResponse =>
      r.from === 'gw-004' ? { ...r, selfMaskShares: r.selfMaskShares.map((s) => (s.of === 'gw-000' ? { ...s, share: flipBit(s.share, 3) } : s)) } : r;
    const run = await runRound({ clients: 5, threshold: 3, inputs }, {}, { response: corrupt });
    expect(run.result.rejectedShares).toEqual([{ from: 'gw-004', of: 'gw-000', kind: 'self-mask' }]);
    expect(run.result.sum).toEqual(plainSum(inputs, run.result.survivors, 16));
  });

  it('with too few good shares left, finishing fails with E_SECAGG naming the client, instead of unmasking with a wrong seed', async () => {
    const inputs = inputsFor(4, 'too-few-good');
    const corrupt = (r: UnmaskingResponse): UnmaskingResponse =>
      r.from === 'gw-003' || r.from === 'gw-002' ? { ...r, maskKeyShares: r.maskKeyShares.map((s) => ({ ...s, share: flipBit(s.share, 0) })) } : r;
    await expect(runRound({ clients: 4, threshold: 3, inputs }, { dropBeforeMasking: new Set(['gw-000']) }, { response: corrupt })).rejects.toMatchObject({
      code: 'E_SECAGG',
      reason: 'too-few-shares',
      message: expect.stringMatching(/only 1 good mask-key shares of gw-000/) as unknown,
    });
  });

  it('a self-mask seed that does not match its dealer commitment is E_SECAGG, not a wrong sum', async () => {
    const inputs = inputsFor(3, 'commitment');
    const run = runRound({ clients: 3, threshold: 2, inputs }, {}, { shareKeys: (m) => (m.from === 'gw-001' ? { ...m, selfMaskCommitment: flipBit(m.selfMaskCommitment, 7) } : m) });
    await expect(run).rejects.toMatchObject({ reason: 'tampered-share', message: expect.stringMatching(/self-mask seed of gw-001/) as unknown });
  });

  it('refuses a response offering a mask-key share of a survivor, and stores none of it', async () => {
    const plan = makePlan({ clients: 3, threshold: 2, vectorLength: 4 });
    const server = new SecAggServer(plan);
    const clients = plan.clients.map((id) => new SecAggClient(plan, id));
    for (const c of clients) server.receiveAdvertisement(c.advertise());
    const roster = server.closeAdvertising();
    for (const c of clients) server.receiveShareKeys(await c.shareKeys(roster));
    server.closeSharing().forEach((d, i) => clients[i]!.receiveShares(d));
    clients.forEach((c) => server.receiveMaskedInput(c.maskInput(new Uint32Array(4))));
    const [request] = server.closeMasking();
    const honest = clients[0]!.unmask(request!);
    const greedy = { ...honest, maskKeyShares: [{ of: 'gw-001', share: honest.selfMaskShares[1]!.share }] };
    expect(() => server.receiveUnmaskingResponse(greedy)).toThrow(expect.objectContaining({ reason: 'inconsistent' }));
    expect((server as unknown as { maskKeyShares: Map<string, unknown> }).maskKeyShares.size).toBe(0);
    server.receiveUnmaskingResponse(honest);
  });
});

describe('secure aggregation messages: checked at the edge', () => {
  const checks = [checkAdvertiseKeys, checkKeyRoster, checkShareKeys, checkShareDelivery, checkMaskedInput, checkUnmaskingRequest, checkUnmaskingResponse];

  it('every check either returns or throws E_SECAGG on an arbitrary value', () => {
    fc.assert(
      fc.property(fc.anything({ withTypedArray: true, withMap: true, withSet: true, withNullPrototype: true }), fc.constantFrom(...checks), (value, check) => {
        try {
          check(value);
        } catch (err) {
          expect(err).toBeInstanceOf(SecureAggregationError);
          expect((err as SecureAggregationError).reason).toBe('malformed');
        }
      }),
      { numRuns: 2_000 },
    );
  });

  it('a message with one field of the wrong type or size is refused, naming that field', () => {
    const valid = {
      round: 'round-1',
      from: 'gw-000',
      selfMaskCommitment: new Uint8Array(32),
      digests: [{ holder: 'gw-000', maskKey: new Uint8Array(32), selfMask: new Uint8Array(32) }],
      boxes: [{ to: 'gw-001', box: new Uint8Array(94) }],
    };
    expect(() => checkShareKeys(valid)).not.toThrow();
    const wrong = fc.oneof(fc.constant(undefined), fc.constantFrom('', 'gw 1', 'gw/1', 'x'.repeat(200)), fc.integer(), fc.uint8Array({ maxLength: 40 }).filter((b) => b.byteLength !== 32 && b.byteLength !== 94), fc.constant([]));
    fc.assert(
      fc.property(fc.constantFrom('round', 'from', 'selfMaskCommitment', 'digests.0.maskKey', 'digests.0.holder', 'boxes.0.box'), wrong, (path, value) => {
        const message = structuredClone(valid) as Record<string, unknown>;
        const keys = path.split('.');
        let at = message as Record<string, unknown>;
        for (const k of keys.slice(0, -1)) at = at[k] as Record<string, unknown>;
        at[keys.at(-1)!] = value;
        const field = path.replace(/\.(\d+)\./g, '[$1].');
        expect(() => checkShareKeys(message)).toThrow(expect.objectContaining({ reason: 'malformed', message: expect.stringContaining(`share-keys.${field}`) as unknown }));
      }),
    );
  });

  it('server and client methods refuse arbitrary input with E_SECAGG and stay usable', async () => {
    const plan = makePlan({ clients: 2, threshold: 2, vectorLength: 4 });
    const server = new SecAggServer(plan);
    const clients = plan.clients.map((id) => new SecAggClient(plan, id));
    fc.assert(
      fc.property(fc.anything(), (value) => {
        for (const receive of [
          () => server.receiveAdvertisement(value as never),
          () => server.receiveShareKeys(value as never),
          () => clients[0]!.receiveShares(value as never),
          () => clients[0]!.unmask(value as never),
        ]) {
          expect(receive).toThrow(SecureAggregationError);
        }
      }),
      { numRuns: 300 },
    );
    for (const c of clients) server.receiveAdvertisement(c.advertise());
    expect(server.closeAdvertising().clients).toHaveLength(2);
  });
});
