import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SecAggClient, SecAggServer, SecureAggregationError, type SecAggServer as Server } from '../../../../fleet/protocol/secure-aggregation/index.js';
import { clientId, makePlan, plainSum, runRound } from './round-harness.js';
import { seededBytes, seededWords } from './seeded.js';

/** Chi-square statistic of the byte histogram of `bytes` against the uniform distribution. */
function chiSquareOfBytes(bytes: Uint8Array): number {
  const counts = new Float64Array(256);
  for (const b of bytes) counts[b] = (counts[b] as number) + 1;
  const expected = bytes.byteLength / 256;
  return counts.reduce((s, c) => s + (c - expected) ** 2 / expected, 0);
}

function correlation(a: Uint32Array, b: Uint32Array): number {
  const n = a.length;
  const mean = (v: Uint32Array): number => v.reduce((s, x) => s + x, 0) / n;
  const ma = mean(a);
  const mb = mean(b);
  let sab = 0;
  let saa = 0;
  let sbb = 0;
  for (let i = 0; i < n; i += 1) {
    const da = (a[i] as number) - ma;
    const db = (b[i] as number) - mb;
    sab += da * db;
    saa += da * da;
    sbb += db * db;
  }
  return sab / Math.sqrt(saa * sbb);
}

const bytesOf = (v: Uint32Array): Uint8Array => new Uint8Array(v.buffer, v.byteOffset, v.byteLength);

/** Every typed array reachable from `root` through fields, arrays, Maps and Sets. */
function typedArraysIn(root: unknown): ArrayBufferView[] {
  const found: ArrayBufferView[] = [];
  const seen = new Set<unknown>();
  const walk = (v: unknown): void => {
    if (typeof v !== 'object' || v === null || seen.has(v)) return;
    seen.add(v);
    if (ArrayBuffer.isView(v)) {
      found.push(v);
      return;
    }
    if (v instanceof Map) for (const [k, x] of v) (walk(k), walk(x));
    else if (v instanceof Set || Array.isArray(v)) for (const x of v) walk(x);
    else for (const x of Object.values(v)) walk(x);
  };
  walk(root);
  return found;
}

function sameBytes(a: ArrayBufferView, b: ArrayBufferView): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

describe('secure aggregation: the server learns nothing but the sum', () => {
  it('makes a masked input look uniform whatever the input (chi-square over bytes, no correlation with x)', async () => {
    // A very structured input: all zeros in the first half, a ramp in the second.
    const length = 65_536;
    const x = Uint32Array.from({ length }, (_, i) => (i < length / 2 ? 0 : (i * 65_537) >>> 0));
    const plan = makePlan({ clients: 3, threshold: 2, vectorLength: length });
    const server = new SecAggServer(plan);
    const clients = plan.clients.map((id) => new SecAggClient(plan, id, { randomBytes: seededBytes(`uniform/${id}`) }));
    for (const c of clients) server.receiveAdvertisement(c.advertise());
    const roster = server.closeAdvertising();
    for (const c of clients) server.receiveShareKeys(await c.shareKeys(roster));
    const delivery = server.closeSharing()[0]!;
    clients[0]!.receiveShares(delivery);
    const y = clients[0]!.maskInput(x).masked;
    // 262,144 bytes in 256 bins, 255 degrees of freedom: mean 255, sd 22.6. The bound is loose
    // (p < 1e-6 for a uniform source); the input itself is far beyond it.
    expect(chiSquareOfBytes(bytesOf(y))).toBeLessThan(400);
    expect(chiSquareOfBytes(bytesOf(x))).toBeGreaterThan(100_000);
    // Over 32,768 pairs of the ramp half, |r| of unrelated values is about 0.006.
    expect(Math.abs(correlation(x.subarray(length / 2), y.subarray(length / 2)))).toBeLessThan(0.03);
  });

  it('never holds an unmasked input: after every step no field of the server equals any x_u', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 2, max: 7 }), fc.integer({ min: 1, max: 40 }), fc.nat(), fc.boolean(), async (n, length, seed, withDropout) => {
        const t = Math.max(2, Math.floor(n / 2) + 1);
        const inputs = Array.from({ length: n }, (_, i) => seededWords(`state/${seed}/${i}`, length));
        const dropped = withDropout && n - t >= 1 ? new Set([clientId(n - 1)]) : new Set<string>();
        const steps: string[] = [];
        const check = (server: Server, step: string): void => {
          steps.push(step);
          for (const held of typedArraysIn(server)) {
            for (const [u, x] of inputs.entries()) {
              if (held.byteLength === x.byteLength && sameBytes(held, x)) throw new Error(`after step "${step}" the server holds client ${u}'s input`);
            }
          }
        };
        const run = await runRound({ clients: n, threshold: t, inputs }, { dropBeforeMasking: dropped }, { afterStep: check });
        expect(steps).toContain('finished');
        expect(run.result.sum).toEqual(plainSum(inputs, run.result.survivors, length));
        // The walk reaches the server's private state: it finds the sum the server keeps at the end.
        expect(typedArraysIn(run.server).some((held) => held.byteLength === run.result.sum.byteLength && sameBytes(held, run.result.sum))).toBe(true);
      }),
      { numRuns: 30 },
    );
  });

  it('never holds both kinds of share of one client', async () => {
    const inputs = Array.from({ length: 6 }, (_, i) => seededWords(`kinds/${i}`, 8));
    const run = await runRound({ clients: 6, threshold: 4, inputs }, { dropBeforeMasking: new Set(['gw-001', 'gw-004']) });
    // The test reads the server's (TypeScript-private) share stores by name: they are what this property is about.
    const state = run.server as unknown as { selfMaskShares: Map<string, unknown>; maskKeyShares: Map<string, unknown> };
    expect([...state.selfMaskShares.keys()].sort()).toEqual(['gw-000', 'gw-002', 'gw-003', 'gw-005']);
    expect([...state.maskKeyShares.keys()].sort()).toEqual(['gw-001', 'gw-004']);
    expect(run.result.sum).toEqual(plainSum(inputs, run.result.survivors, 8));
  });

  it('a client refuses to reveal the other kind of share for a peer it already answered for, and reveals nothing then', async () => {
    const plan = makePlan({ clients: 4, threshold: 3, vectorLength: 4 });
    const server = new SecAggServer(plan);
    const clients = plan.clients.map((id) => new SecAggClient(plan, id));
    for (const c of clients) server.receiveAdvertisement(c.advertise());
    const roster = server.closeAdvertising();
    for (const c of clients) server.receiveShareKeys(await c.shareKeys(roster));
    const deliveries = server.closeSharing();
    clients.forEach((c, i) => {
      c.receiveShares(deliveries[i]!);
      server.receiveMaskedInput(c.maskInput(new Uint32Array(4).fill(i)));
    });
    const gw0 = clients[0]!;
    const all = ['gw-000', 'gw-001', 'gw-002', 'gw-003'];
    const first = gw0.unmask({ round: 'round-1', to: 'gw-000', survivors: all });
    expect(first.selfMaskShares.map((s) => s.of)).toEqual(all);
    expect(first.maskKeyShares).toEqual([]);
    // Asking again the same way (a lost reply) gets the same shares.
    expect(gw0.unmask({ round: 'round-1', to: 'gw-000', survivors: all })).toEqual(first);
    // A curious server now claims gw-003 dropped, to get its mask key as well as its self-mask seed.
    expect(() => gw0.unmask({ round: 'round-1', to: 'gw-000', survivors: ['gw-000', 'gw-001', 'gw-002'] })).toThrow(
      expect.objectContaining({ code: 'E_SECAGG', reason: 'refused-reveal', message: expect.stringMatching(/refuses to reveal a mask-key share of gw-003/) as unknown }),
    );
    // A fresh client asked first with gw-003 dropped gives its mask-key share, then refuses its self-mask share.
    const gw1 = clients[1]!;
    const asDropped = gw1.unmask({ round: 'round-1', to: 'gw-001', survivors: ['gw-000', 'gw-001', 'gw-002'] });
    expect(asDropped.maskKeyShares.map((s) => s.of)).toEqual(['gw-003']);
    expect(() => gw1.unmask({ round: 'round-1', to: 'gw-001', survivors: all })).toThrow(SecureAggregationError);
  });

  it('a client refuses an unmasking request naming too few survivors, or one that leaves it out, or names a survivor that never dealt', async () => {
    const run = await runRound({ clients: 5, threshold: 3, inputs: Array.from({ length: 5 }, (_, i) => seededWords(`req/${i}`, 4)) }, { dropBeforeSharing: new Set(['gw-004']) });
    const c = run.clients.get('gw-000')!;
    const ask = (survivors: string[]) => () => c.unmask({ round: 'round-1', to: 'gw-000', survivors });
    expect(ask(['gw-000', 'gw-001'])).toThrow(expect.objectContaining({ reason: 'too-few-clients' }));
    expect(ask(['gw-001', 'gw-002', 'gw-003'])).toThrow(expect.objectContaining({ reason: 'inconsistent' }));
    expect(ask(['gw-000', 'gw-001', 'gw-004'])).toThrow(expect.objectContaining({ reason: 'inconsistent' }));
    expect(ask(['gw-000', 'gw-001', 'gw-009'])).toThrow(expect.objectContaining({ reason: 'unknown-client' }));
  });
});
