import { randomBytes } from 'node:crypto';
import { cborEncode } from '../../fleet/protocol/cbor.js';
import { decodeSignedSum, embedSigned, planRound, quantiseShared, SecAggClient, SecAggServer, sharedScale, widestLevels, type NeighbourGraph } from '../../fleet/protocol/secure-aggregation/index.js';
import { finish, median, progress } from './report.js';

/**
 * `npm run bench -- secure-aggregation [--clients 20] [--params 6824] [--runs 5]`: one secure
 * round in this process, every client and the server one after the other, on updates the size
 * of the anomaly autoencoder (window 32 x 3 channels: 96-32-8-32-96, 6,824 parameters), int8
 * values in the uint32 ring. Times are CPU work per party (median over runs); bytes are the
 * CBOR payloads (fleet/protocol/cbor.ts) a client sends and receives, the masked vector as
 * 4 bytes per word. The baseline, same run: the fleet summing the same inputs in the clear.
 * Then the same with two clients dropping after dealing shares (the server's recovery work),
 * and over a SecAgg+ graph of degree 8.
 */
const ms = (t0: bigint): number => Number(process.hrtime.bigint() - t0) / 1e6;
const wordsAsBytes = (v: Uint32Array): Uint8Array => new Uint8Array(v.buffer, v.byteOffset, v.byteLength);

interface RoundCost {
  readonly clientMs: number[];
  readonly serverMs: number;
  readonly finishMs: number;
  readonly upBytes: number[];
  readonly downBytes: number[];
}

async function round(n: number, length: number, graph: NeighbourGraph, threshold: number, drop: ReadonlySet<string>): Promise<RoundCost> {
  const ids = Array.from({ length: n }, (_, i) => `gw-${String(i).padStart(3, '0')}`);
  const plan = planRound({ round: 'bench-1', clients: ids, threshold, vectorLength: length, graph });
  const inputs = ids.map(() => embedSigned(new Int8Array(randomBytes(length).buffer)));
  const clientMs = new Map(ids.map((id) => [id, 0]));
  const up = new Map(ids.map((id) => [id, 0]));
  const down = new Map(ids.map((id) => [id, 0]));
  const timed = <T>(id: string, f: () => T): T => {
    const t0 = process.hrtime.bigint();
    const out = f();
    clientMs.set(id, (clientMs.get(id) as number) + ms(t0));
    return out;
  };
  const timedAsync = async <T>(id: string, f: () => Promise<T>): Promise<T> => {
    const t0 = process.hrtime.bigint();
    const out = await f();
    clientMs.set(id, (clientMs.get(id) as number) + ms(t0));
    return out;
  };
  const count = (m: Map<string, number>, id: string, payload: unknown): void => void m.set(id, (m.get(id) as number) + cborEncode(payload).byteLength);
  let serverMs = 0;
  const server = <T>(f: () => T): T => {
    const t0 = process.hrtime.bigint();
    const out = f();
    serverMs += ms(t0);
    return out;
  };

  const s = server(() => new SecAggServer(plan));
  const clients = new Map(ids.map((id) => [id, timed(id, () => new SecAggClient(plan, id))]));
  for (const [id, c] of clients) {
    const m = timed(id, () => c.advertise());
    count(up, id, m);
    server(() => s.receiveAdvertisement(m));
  }
  const roster = server(() => s.closeAdvertising());
  for (const [id, c] of clients) {
    count(down, id, roster);
    const m = await timedAsync(id, () => c.shareKeys(roster));
    count(up, id, m);
    server(() => s.receiveShareKeys(m));
  }
  for (const d of server(() => s.closeSharing())) {
    count(down, d.to, d);
    if (drop.has(d.to)) continue;
    const c = clients.get(d.to) as SecAggClient;
    const m = timed(d.to, () => {
      c.receiveShares(d);
      return c.maskInput(inputs[ids.indexOf(d.to)] as Uint32Array);
    });
    count(up, d.to, { ...m, masked: wordsAsBytes(m.masked) });
    server(() => s.receiveMaskedInput(m));
  }
  for (const r of server(() => s.closeMasking())) {
    count(down, r.to, r);
    const m = timed(r.to, () => (clients.get(r.to) as SecAggClient).unmask(r));
    count(up, r.to, m);
    server(() => s.receiveUnmaskingResponse(m));
  }
  const t0 = process.hrtime.bigint();
  await s.finish();
  const finishMs = ms(t0);
  serverMs += finishMs;
  const kept = ids.filter((id) => !drop.has(id));
  return { clientMs: kept.map((id) => clientMs.get(id) as number), serverMs, finishMs, upBytes: kept.map((id) => up.get(id) as number), downBytes: kept.map((id) => down.get(id) as number) };
}

function plainSumMs(n: number, length: number): number {
  const inputs = Array.from({ length: n }, () => embedSigned(new Int8Array(randomBytes(length).buffer)));
  const t0 = process.hrtime.bigint();
  const sum = new Uint32Array(length);
  for (const x of inputs) for (let i = 0; i < length; i += 1) sum[i] = (sum[i] as number) + (x[i] as number);
  return ms(t0);
}

/**
 * What the shared scale costs in accuracy: the relative L2 error of the sum of n clients'
 * deltas (Gaussian, each scaled to the clip norm, as a clipped delta at the bound is) after
 * stochastic quantisation with the round's shared scale (clipNorm / levels), against each
 * client's own max-abs scale (what a plain, non-secure upload may use).
 */
function quantisationError(n: number, length: number, levels: number, shared: boolean): number {
  const gauss = (): number => Math.sqrt(-2 * Math.log(1 - Math.random())) * Math.cos(2 * Math.PI * Math.random());
  const exact = new Float64Array(length);
  const approx = new Float64Array(length);
  for (let c = 0; c < n; c += 1) {
    const d = Float64Array.from({ length }, gauss);
    const norm = Math.hypot(...d);
    for (let i = 0; i < length; i += 1) d[i] = (d[i] as number) / norm;
    const scale = shared ? sharedScale(1, levels) : d.reduce((m, v) => Math.max(m, Math.abs(v)), 0) / levels;
    const q = decodeSignedSum(quantiseShared(d, scale, levels, Math.random), 1, levels);
    for (let i = 0; i < length; i += 1) {
      exact[i] = (exact[i] as number) + (d[i] as number);
      approx[i] = (approx[i] as number) + (q[i] as number) * scale;
    }
  }
  let err = 0;
  let ref = 0;
  for (let i = 0; i < length; i += 1) {
    err += ((approx[i] as number) - (exact[i] as number)) ** 2;
    ref += (exact[i] as number) ** 2;
  }
  return Math.sqrt(err / ref);
}

export async function benchSecureAggregation(args: readonly string[]): Promise<void> {
  const arg = (name: string, fallback: number): number => (args.includes(name) ? Number(args[args.indexOf(name) + 1]) : fallback);
  const n = arg('--clients', 20);
  const length = arg('--params', 6824);
  const runs = arg('--runs', 5);
  const t = Math.floor(n / 2) + 1;
  progress(`secure-aggregation: ${n} clients, ${length} parameters, threshold ${t}, ${runs} runs each`);
  await round(n, length, { type: 'complete' }, t, new Set()); // warm-up
  const full: RoundCost[] = [];
  const dropped: RoundCost[] = [];
  const harary: RoundCost[] = [];
  const plain: number[] = [];
  const two = new Set(['gw-003', 'gw-011']);
  for (let r = 0; r < runs; r += 1) {
    full.push(await round(n, length, { type: 'complete' }, t, new Set()));
    dropped.push(await round(n, length, { type: 'complete' }, t, two));
    harary.push(await round(n, length, { type: 'harary', degree: 8, seed: randomBytes(32) }, 5, two));
    plain.push(plainSumMs(n, length));
  }
  const med = (costs: RoundCost[], f: (c: RoundCost) => number): number => median(costs.map(f));
  const perClient = (c: RoundCost): number => median(c.clientMs);
  const total = (c: RoundCost): number => c.clientMs.reduce((a, b) => a + b, 0) + c.serverMs;
  const round1 = (x: number): number => Math.round(x * 10) / 10;
  progress(`all clients present: client ${round1(med(full, perClient))} ms, server ${round1(med(full, (c) => c.serverMs))} ms (finish ${round1(med(full, (c) => c.finishMs))} ms)`);
  progress(`two dropped after dealing: client ${round1(med(dropped, perClient))} ms, server ${round1(med(dropped, (c) => c.serverMs))} ms (finish ${round1(med(dropped, (c) => c.finishMs))} ms)`);
  progress(`SecAgg+ degree 8, two dropped: client ${round1(med(harary, perClient))} ms, server ${round1(med(harary, (c) => c.serverMs))} ms; bytes up ${median(harary[0]!.upBytes)}, down ${median(harary[0]!.downBytes)}`);
  const pct = (x: number): number => Number((x * 100).toPrecision(2));
  const errors = {
    sum_error_pct_int8_shared_scale: pct(median(Array.from({ length: runs }, () => quantisationError(n, length, 127, true)))),
    sum_error_pct_int8_own_scale: pct(median(Array.from({ length: runs }, () => quantisationError(n, length, 127, false)))),
    sum_error_pct_widest_shared_scale: pct(median(Array.from({ length: runs }, () => quantisationError(n, length, widestLevels(n), true)))),
  };
  progress(`relative error of the sum of ${n} quantised deltas: ${JSON.stringify(errors)}`);
  finish('secure-aggregation', med(full, total), median(plain), 'ms', {
    clients: n,
    params: length,
    client_ms: round1(med(full, perClient)),
    server_ms: round1(med(full, (c) => c.serverMs)),
    server_ms_two_dropped: round1(med(dropped, (c) => c.serverMs)),
    finish_ms_two_dropped: round1(med(dropped, (c) => c.finishMs)),
    client_bytes_up: median(full[0]!.upBytes),
    client_bytes_down: median(full[0]!.downBytes),
    masked_input_bytes: 4 * length,
    int8_update_bytes: length,
    float32_update_bytes: 4 * length,
    harary8_client_ms: round1(med(harary, perClient)),
    harary8_server_ms: round1(med(harary, (c) => c.serverMs)),
    harary8_client_bytes_up: median(harary[0]!.upBytes),
    harary8_client_bytes_down: median(harary[0]!.downBytes),
    ...errors,
  });
}
