import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SecAggClient, SecAggServer, SecureAggregationError } from '../../../../fleet/protocol/secure-aggregation/index.js';
import { clientId, makePlan, plainSum, runRound } from './round-harness.js';
import { seededWords } from './seeded.js';

/** A round's shape: n clients, a majority threshold or more, and up to n - t clients dropping after dealing. */
const shape = fc
  .integer({ min: 2, max: 8 })
  .chain((n) => fc.record({ n: fc.constant(n), t: fc.integer({ min: Math.floor(n / 2) + 1, max: n }).filter((t) => t >= 2), length: fc.integer({ min: 1, max: 24 }) }))
  .chain((s) =>
    fc.record({
      n: fc.constant(s.n),
      t: fc.constant(s.t),
      inputs: fc.array(fc.uint32Array({ minLength: s.length, maxLength: s.length }), { minLength: s.n, maxLength: s.n }),
      dropped: fc.subarray(Array.from({ length: s.n }, (_, i) => clientId(i)), { maxLength: s.n - s.t }),
    }),
  );

function expectSecAgg(reason: string): (err: unknown) => boolean {
  return (err) => err instanceof SecureAggregationError && err.code === 'E_SECAGG' && err.reason === reason;
}

describe('secure aggregation: the server learns the sum', () => {
  it('gives the plain sum mod 2^32 of every input when nobody drops', async () => {
    await fc.assert(
      fc.asyncProperty(shape, async ({ n, t, inputs }) => {
        const { result, plan } = await runRound({ clients: n, threshold: t, inputs });
        expect(result.survivors).toEqual(plan.clients);
        expect(result.dropped).toEqual([]);
        expect(result.sum).toEqual(plainSum(inputs, plan.clients, inputs[0]!.length));
      }),
      { numRuns: 40 },
    );
  });

  it('gives the sum of the survivors when clients drop after dealing shares, before their masked input', async () => {
    await fc.assert(
      fc.asyncProperty(shape, async ({ n, t, inputs, dropped }) => {
        const { result, plan } = await runRound({ clients: n, threshold: t, inputs }, { dropBeforeMasking: new Set(dropped) });
        const survivors = plan.clients.filter((c) => !dropped.includes(c));
        expect(result.survivors).toEqual(survivors);
        expect(result.dropped).toEqual([...dropped].sort());
        expect(result.sum).toEqual(plainSum(inputs, survivors, inputs[0]!.length));
      }),
      { numRuns: 40 },
    );
  });

  it('recovers when two clients drop after the masks are set: two that dealt shares but sent no masked input, or two that sent it but never answer the unmasking request', async () => {
    const inputs = Array.from({ length: 7 }, (_, i) => seededWords(`two-drop/${i}`, 500));
    const { result, plan } = await runRound({ clients: 7, threshold: 4, inputs }, { dropBeforeMasking: new Set(['gw-002', 'gw-005']) });
    expect(result.sum).toEqual(plainSum(inputs, plan.clients.filter((c) => c !== 'gw-002' && c !== 'gw-005'), 500));
    // Inputs sent, then silence: their self-masks are rebuilt from the other survivors' shares.
    const silent = await runRound({ clients: 7, threshold: 4, inputs }, { silentAtUnmasking: new Set(['gw-001', 'gw-006']) });
    expect(silent.result.survivors).toEqual(plan.clients);
    expect(silent.result.sum).toEqual(plainSum(inputs, plan.clients, 500));
    // Both at once, down to the threshold of answers.
    const both = await runRound({ clients: 7, threshold: 4, inputs }, { dropBeforeMasking: new Set(['gw-002', 'gw-005']), silentAtUnmasking: new Set(['gw-000']) });
    expect(both.result.survivors).toEqual(['gw-000', 'gw-001', 'gw-003', 'gw-004', 'gw-006']);
    expect(both.result.sum).toEqual(plainSum(inputs, both.result.survivors, 500));
  });

  it('leaves out clients that advertised keys but never dealt shares, and those that never showed up', async () => {
    const inputs = Array.from({ length: 6 }, (_, i) => seededWords(`absent/${i}`, 64));
    const { result } = await runRound({ clients: 6, threshold: 4, inputs }, { silentFromStart: new Set(['gw-000']), dropBeforeSharing: new Set(['gw-003']) });
    expect(result.survivors).toEqual(['gw-001', 'gw-002', 'gw-004', 'gw-005']);
    expect(result.dropped).toEqual([]);
    expect(result.sum).toEqual(plainSum(inputs, result.survivors, 64));
  });

  it('stops with E_SECAGG when fewer than t clients are left at any step', async () => {
    const inputs = Array.from({ length: 5 }, (_, i) => seededWords(`few/${i}`, 16));
    await expect(runRound({ clients: 5, threshold: 3, inputs }, { dropBeforeMasking: new Set(['gw-000', 'gw-001', 'gw-002']) })).rejects.toSatisfy(expectSecAgg('too-few-clients'));
    await expect(runRound({ clients: 5, threshold: 3, inputs }, { dropBeforeSharing: new Set(['gw-000', 'gw-001', 'gw-002']) })).rejects.toSatisfy(expectSecAgg('too-few-clients'));
    await expect(runRound({ clients: 5, threshold: 3, inputs }, { silentFromStart: new Set(['gw-000', 'gw-001', 'gw-002']) })).rejects.toSatisfy(expectSecAgg('too-few-clients'));
    // Enough inputs, too few answers: the self-masks cannot be rebuilt, and the message says whose.
    await expect(runRound({ clients: 5, threshold: 3, inputs }, { silentAtUnmasking: new Set(['gw-000', 'gw-001', 'gw-002']) })).rejects.toSatisfy(
      (err: unknown) => expectSecAgg('too-few-shares')(err) && /only 2 good self-mask shares of gw-000/.test((err as Error).message),
    );
  });

  it('works the same over a SecAgg+ neighbour graph, with dropouts', async () => {
    const graphShape = fc.record({
      n: fc.integer({ min: 5, max: 14 }),
      seed: fc.uint8Array({ minLength: 32, maxLength: 32 }),
      length: fc.integer({ min: 1, max: 16 }),
      dropCount: fc.integer({ min: 0, max: 2 }),
    });
    await fc.assert(
      fc.asyncProperty(graphShape, async ({ n, seed, length, dropCount }) => {
        // Degree 4: each client masks with 4 neighbours and shares among 5 holders, threshold 3.
        const inputs = Array.from({ length: n }, (_, i) => seededWords(`harary/${n}/${i}`, length));
        const graph = { type: 'harary' as const, degree: 4, seed };
        const dropped = new Set(Array.from({ length: dropCount }, (_, i) => clientId(i * 3)));
        const run = await runRound({ clients: n, threshold: 3, inputs, graph }, { dropBeforeMasking: dropped });
        const survivors = run.plan.clients.filter((c) => !dropped.has(c));
        for (const c of run.plan.clients) expect(run.plan.neighbours(c)).toHaveLength(4);
        expect(run.result.sum).toEqual(plainSum(inputs, survivors, length));
      }),
      { numRuns: 25 },
    );
  });

  it('refuses messages out of order, from strangers, twice, or for another round, and goes on', async () => {
    const inputs = Array.from({ length: 3 }, (_, i) => seededWords(`order/${i}`, 8));
    const plan = makePlan({ clients: 3, threshold: 2, vectorLength: 8 });
    const server = new SecAggServer(plan);
    const clients = plan.clients.map((id) => new SecAggClient(plan, id));
    const ads = clients.map((c) => c.advertise());
    expect(() => server.receiveMaskedInput({ round: 'round-1', from: 'gw-000', masked: new Uint32Array(8) })).toThrow(expect.objectContaining({ reason: 'wrong-phase' }));
    expect(() => server.receiveAdvertisement({ ...ads[0]!, from: 'gw-999' })).toThrow(expect.objectContaining({ reason: 'unknown-client' }));
    expect(() => server.receiveAdvertisement({ ...ads[0]!, round: 'round-2' })).toThrow(expect.objectContaining({ reason: 'wrong-round' }));
    server.receiveAdvertisement(ads[0]!);
    expect(() => server.receiveAdvertisement(ads[0]!)).toThrow(expect.objectContaining({ reason: 'duplicate' }));
    expect(() => server.receiveAdvertisement({ ...ads[1]!, maskPublicKey: ads[0]!.maskPublicKey })).toThrow(expect.objectContaining({ reason: 'duplicate-key' }));
    // A low-order point (all zeros) would break every peer's key agreement: refused at the door.
    expect(() => server.receiveAdvertisement({ ...ads[1]!, encryptionPublicKey: new Uint8Array(32) })).toThrow(expect.objectContaining({ reason: 'key-agreement' }));
    server.receiveAdvertisement(ads[1]!);
    server.receiveAdvertisement(ads[2]!);
    const roster = server.closeAdvertising();
    expect(() => clients[0]!.advertise()).toThrow(expect.objectContaining({ reason: 'wrong-phase' }));
    for (const c of clients) server.receiveShareKeys(await c.shareKeys(roster));
    const deliveries = server.closeSharing();
    clients.forEach((c, i) => c.receiveShares(deliveries[i]!));
    const masked = clients.map((c, i) => c.maskInput(inputs[i]!));
    expect(() => clients[0]!.maskInput(inputs[0]!)).toThrow(expect.objectContaining({ reason: 'wrong-phase' }));
    expect(() => server.receiveMaskedInput({ ...masked[0]!, masked: new Uint32Array(7) })).toThrow(expect.objectContaining({ reason: 'malformed' }));
    for (const m of masked) server.receiveMaskedInput(m);
    expect(() => server.receiveMaskedInput(masked[0]!)).toThrow(expect.objectContaining({ reason: 'duplicate' }));
    const requests = server.closeMasking();
    requests.forEach((r, i) => server.receiveUnmaskingResponse(clients[i]!.unmask(r)));
    expect((await server.finish()).sum).toEqual(plainSum(inputs, plan.clients, 8));
  });
});
