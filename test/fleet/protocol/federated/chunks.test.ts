import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { cborEncode } from '../../../../fleet/protocol/cbor.js';
import { CHUNK_ENVELOPE_BYTES, ChunkReassembler, FederatedError, decodeChunk, seededRandom, sha256, splitUpdate, type AcceptResult, type ReassemblerOptions } from '../../../../fleet/protocol/federated/index.js';

/** A clock the test moves by hand. */
function fakeClock(): { now: () => number; advance: (ms: number) => void } {
  let t = 1_000_000;
  return { now: () => t, advance: (ms) => (t += ms) };
}

function randomBytes(n: number, seed: number): Uint8Array {
  const r = seededRandom(seed);
  return Uint8Array.from({ length: n }, () => Math.floor(r() * 256));
}

function errorOf(fn: () => unknown): FederatedError {
  try {
    fn();
  } catch (err) {
    if (err instanceof FederatedError) return err;
    throw err;
  }
  throw new Error('expected a FederatedError');
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
/** Byte equality (vitest's deep equality walks typed arrays element by element: slow for 50 kB). */
const same = (a: Uint8Array | false | undefined, b: Uint8Array): boolean => a instanceof Uint8Array && Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
const reassembler = (o: Partial<ReassemblerOptions> = {}): ChunkReassembler => new ChunkReassembler({ now: fakeClock().now, ...o });

/** An update and a delivery plan: chunk indices in random order, some repeated. */
const plan = fc
  .record({ length: fc.integer({ min: 1, max: 20_000 }), maxChunkBytes: fc.integer({ min: 1024, max: 4096 }), seed: fc.nat() })
  .chain((u) => {
    const count = Math.ceil(u.length / (u.maxChunkBytes - CHUNK_ENVELOPE_BYTES));
    return fc.record({
      update: fc.constant(u),
      order: fc.shuffledSubarray(Array.from({ length: count }, (_, i) => i), { minLength: count, maxLength: count }),
      repeats: fc.array(fc.nat(count - 1), { maxLength: count }),
    });
  });

describe('chunking an update for MQTT', () => {
  it('splits into chunks no larger than the maximum, each placing its own bytes', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 50_000 }), fc.integer({ min: 1024, max: 70_000 }), (length, maxChunkBytes) => {
        const update = randomBytes(length, length);
        const chunks = splitUpdate(update, { updateId: 'anomaly-motor.12', maxChunkBytes });
        const size = maxChunkBytes - CHUNK_ENVELOPE_BYTES;
        expect(chunks.length).toBe(Math.ceil(length / size));
        const joined = new Uint8Array(length);
        chunks.forEach((bytes, i) => {
          expect(bytes.length).toBeLessThanOrEqual(maxChunkBytes);
          const c = decodeChunk(bytes);
          expect([c.index, c.count, c.totalBytes, c.chunkBytes, c.updateId]).toEqual([i, chunks.length, length, size, 'anomaly-motor.12']);
          expect(hex(c.sha256)).toBe(hex(sha256(update)));
          joined.set(c.data, c.index * c.chunkBytes);
        });
        expect(same(joined, update)).toBe(true);
      }),
      { numRuns: 200 },
    );
    expect(splitUpdate(randomBytes(10, 1), { updateId: 'u' }).length).toBe(1);
    // the envelope bound holds for the longest id and the largest counts
    const longest = splitUpdate(new Uint8Array(3_000_000).fill(7), { updateId: 'x'.repeat(128), maxChunkBytes: 65_536 });
    expect(Math.max(...longest.map((c) => c.length))).toBeLessThanOrEqual(65_536);
  });

  it('refuses bad split options', () => {
    expect(errorOf(() => splitUpdate(randomBytes(10, 1), { updateId: 'a/b' })).field).toBe('updateId');
    expect(errorOf(() => splitUpdate(randomBytes(10, 1), { updateId: 'u', maxChunkBytes: 1000 })).field).toBe('maxChunkBytes');
    expect(errorOf(() => splitUpdate(new Uint8Array(0), { updateId: 'u' })).field).toBe('update');
    expect(errorOf(() => splitUpdate(new Uint8Array(5_000_000), { updateId: 'u', maxChunkBytes: 1024 })).message).toContain('at most 4096');
  });

  it('refuses malformed chunks, naming the field', () => {
    const base = { v: 1, id: 'u', sha: new Uint8Array(32), len: 10, size: 4, n: 3, i: 0, d: new Uint8Array(4) };
    const cases: [Record<string, unknown>, string, string][] = [
      [{ v: 2 }, 'chunk.v', 'version 2'],
      [{ id: '' }, 'chunk.id', 'update id'],
      [{ sha: new Uint8Array(31) }, 'chunk.sha', '32-byte'],
      [{ len: 0 }, 'chunk.len', 'from 1'],
      [{ n: 2 }, 'chunk.n', '10 bytes in chunks of 4 make 3'],
      [{ i: 3 }, 'chunk.i', 'from 0 to 2'],
      [{ d: new Uint8Array(3) }, 'chunk.d', 'carries 4 bytes, got 3'],
      [{ i: 2, d: new Uint8Array(4) }, 'chunk.d', 'carries 2 bytes'],
      [{ n: 5000, size: 1, len: 5000 }, 'chunk.n', 'to 4096'],
      [{ extra: 1 }, 'chunk.extra', 'unknown key'],
    ];
    for (const [over, field, text] of cases) {
      const e = errorOf(() => decodeChunk(cborEncode({ ...base, ...over })));
      expect([e.code, e.field], text).toEqual(['E_FEDERATED_CHUNK', field]);
      expect(e.message).toContain(text);
    }
    expect(decodeChunk(cborEncode({ ...base, i: 2, d: new Uint8Array(2) })).data.length).toBe(2);
  });

  it('refuses arbitrary or corrupted chunk bytes with E_FEDERATED_CHUNK only', () => {
    const chunks = splitUpdate(randomBytes(3000, 3), { updateId: 'u', maxChunkBytes: 1024 });
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 300 }), fc.tuple(fc.constantFrom(...chunks), fc.nat(), fc.nat(255), fc.nat()).map(([c, at, b, cut]) => Uint8Array.from(c, (x, i) => (i === at % c.length ? b : x)).subarray(0, c.length - (cut % 3)))), (bytes) => {
        try {
          decodeChunk(bytes);
        } catch (err) {
          expect(err).toBeInstanceOf(FederatedError);
          expect((err as FederatedError).code).toBe('E_FEDERATED_CHUNK');
        }
      }),
      { numRuns: 3000 },
    );
  });
});

describe('reassembling chunked updates', () => {
  it('puts an update together from chunks in any order, with duplicates, exactly once', () => {
    fc.assert(
      fc.property(plan, ({ update: u, order, repeats }) => {
        const update = randomBytes(u.length, u.seed);
        const chunks = splitUpdate(update, { updateId: 'task.3', maxChunkBytes: u.maxChunkBytes });
        const r = reassembler();
        const deliveries = [...order];
        repeats.forEach((i, k) => deliveries.splice((k * 7) % (deliveries.length + 1), 0, i));
        const results = deliveries.map((i) => r.accept('gw-1', chunks[i] as Uint8Array));
        const complete = results.filter((x): x is Extract<AcceptResult, { status: 'complete' }> => x.status === 'complete');
        expect(complete.length).toBe(1);
        expect(same(complete[0]?.bytes, update)).toBe(true);
        expect(complete[0]?.sha256).toBe(hex(sha256(update)));
        expect(results.filter((x) => x.status === 'partial').length).toBe(chunks.length - 1);
        expect(results.filter((x) => x.status === 'duplicate').length).toBe(repeats.length);
        // QoS 1 may redeliver after completion: still a duplicate, not a new update
        expect(r.accept('gw-1', chunks[0] as Uint8Array).status).toBe('duplicate');
        expect(r.stats).toEqual({ updates: 0, reservedBytes: 0 });
      }),
      { numRuns: 200 },
    );
  });

  it('resumes after a reconnect: says which chunks are missing, and the re-sent ones complete it', () => {
    fc.assert(
      fc.property(plan, fc.nat(), ({ update: u, order }, cut) => {
        const update = randomBytes(u.length, u.seed);
        const chunks = splitUpdate(update, { updateId: 'task.3', maxChunkBytes: u.maxChunkBytes });
        const sha = hex(sha256(update));
        const r = reassembler();
        expect(r.missing('gw-1', 'task.3', sha)).toEqual({ state: 'unknown' });
        const before = order.slice(0, cut % chunks.length);
        for (const i of before) r.accept('gw-1', chunks[i] as Uint8Array);
        // the connection drops here; the sender asks what is missing and sends only that
        const report = r.missing('gw-1', 'task.3', sha);
        if (before.length === 0) {
          expect(report).toEqual({ state: 'unknown' });
          return;
        }
        const missing = chunks.map((_, i) => i).filter((i) => !before.includes(i));
        expect(report).toEqual({ state: 'assembling', count: chunks.length, missing });
        const last = missing.map((i) => r.accept('gw-1', chunks[i] as Uint8Array)).at(-1);
        expect(last?.status).toBe('complete');
        expect(same(last?.status === 'complete' && last.bytes, update)).toBe(true);
        expect(r.missing('gw-1', 'task.3', sha)).toEqual({ state: 'complete' });
      }),
      { numRuns: 200 },
    );
  });

  it('keeps the updates of different senders and different contents apart, interleaved', () => {
    const r = reassembler({ maxUpdatesPerSender: 2 });
    const a = randomBytes(5000, 1);
    const b = randomBytes(5000, 2);
    const plans = [
      ['gw-1', splitUpdate(a, { updateId: 'same', maxChunkBytes: 1024 })],
      ['gw-2', splitUpdate(b, { updateId: 'same', maxChunkBytes: 1024 })],
      // gw-1 re-encoded under the same id (a restart): another digest, another update
      ['gw-1', splitUpdate(b, { updateId: 'same', maxChunkBytes: 1024 })],
    ] as const;
    const done: [string, Uint8Array][] = [];
    const longest = Math.max(...plans.map(([, c]) => c.length));
    for (let i = longest - 1; i >= 0; i -= 1) {
      for (const [gw, chunks] of plans) {
        const c = chunks[i];
        if (c === undefined) continue;
        const res = r.accept(gw, c);
        if (res.status === 'complete') done.push([gw, res.bytes]);
      }
    }
    expect(done.map(([gw, bytes]) => [gw, hex(bytes)])).toEqual([
      ['gw-1', hex(a)],
      ['gw-2', hex(b)],
      ['gw-1', hex(b)],
    ]);
  });

  it('bounds updates at once, per sender, and reserved bytes; refuses a new update over a bound and keeps nothing of it', () => {
    const r = reassembler({ maxUpdates: 3, maxUpdatesPerSender: 2, maxTotalBytes: 12_000 });
    const first = (gw: string, id: string, n: number): AcceptResult => r.accept(gw, splitUpdate(randomBytes(n, n), { updateId: id, maxChunkBytes: 1024 })[0] as Uint8Array);
    first('gw-1', 'a', 4000);
    first('gw-1', 'b', 4000);
    const perSender = errorOf(() => first('gw-1', 'c', 1000));
    expect([perSender.code, perSender.message]).toEqual(['E_FEDERATED_CAPACITY', expect.stringContaining('gw-1 has 2 updates being assembled, at most 2')]);
    const bytes = errorOf(() => first('gw-2', 'c', 4001));
    expect(bytes.message).toContain('8000 bytes reserved, 4001 more would pass 12000');
    expect(r.stats).toEqual({ updates: 2, reservedBytes: 8000 });
    first('gw-2', 'c', 4000);
    expect(errorOf(() => first('gw-3', 'd', 10)).message).toContain('3 updates are being assembled');
    expect(r.stats).toEqual({ updates: 3, reservedBytes: 12_000 });
  });

  it('drops an update that made no progress for the TTL; duplicates do not keep it alive', () => {
    const clock = fakeClock();
    const r = new ChunkReassembler({ now: clock.now, ttlMs: 60_000 });
    const update = randomBytes(3000, 9);
    const chunks = splitUpdate(update, { updateId: 'u', maxChunkBytes: 1024 });
    const sha = hex(sha256(update));
    r.accept('gw-1', chunks[0] as Uint8Array);
    clock.advance(50_000);
    r.accept('gw-1', chunks[1] as Uint8Array);
    clock.advance(50_000);
    expect(r.sweep()).toEqual([]);
    expect(r.accept('gw-1', chunks[1] as Uint8Array).status).toBe('duplicate');
    clock.advance(10_001);
    expect(r.sweep()).toEqual([{ sender: 'gw-1', updateId: 'u', received: 2, count: 4 }]);
    expect(r.stats).toEqual({ updates: 0, reservedBytes: 0 });
    expect(r.missing('gw-1', 'u', sha)).toEqual({ state: 'unknown' });
    // sent again from the start, it completes
    const last = chunks.map((c) => r.accept('gw-1', c)).at(-1);
    expect(last?.status).toBe('complete');
    // a completed update is remembered for a TTL, then forgotten
    clock.advance(60_001);
    expect(r.missing('gw-1', 'u', sha)).toEqual({ state: 'unknown' });
  });

  it('rejects an update whose bytes do not match the checksum its chunks carry, and takes a good resend', () => {
    const update = randomBytes(3000, 4);
    const chunks = splitUpdate(update, { updateId: 'u', maxChunkBytes: 1024 });
    const c1 = decodeChunk(chunks[1] as Uint8Array);
    const data = c1.data.slice();
    data[17] = (data[17] as number) ^ 1;
    const forged = cborEncode({ v: 1, id: 'u', sha: c1.sha256, len: c1.totalBytes, size: c1.chunkBytes, n: c1.count, i: 1, d: data });
    const r = reassembler();
    r.accept('gw-1', chunks[0] as Uint8Array);
    r.accept('gw-1', forged);
    r.accept('gw-1', chunks[2] as Uint8Array);
    const e = errorOf(() => r.accept('gw-1', chunks[3] as Uint8Array));
    expect([e.code, e.field]).toEqual(['E_FEDERATED_CHECKSUM', 'chunk.sha']);
    expect(r.stats).toEqual({ updates: 0, reservedBytes: 0 });
    const last = chunks.map((c) => r.accept('gw-1', c)).at(-1);
    expect(same(last?.status === 'complete' && last.bytes, update)).toBe(true);
  });

  it('refuses a chunk at odds with what it received of the same update', () => {
    const update = randomBytes(3000, 5);
    const chunks = splitUpdate(update, { updateId: 'u', maxChunkBytes: 1024 });
    const c0 = decodeChunk(chunks[0] as Uint8Array);
    const r = reassembler();
    r.accept('gw-1', chunks[0] as Uint8Array);
    const other = c0.data.slice();
    other[0] = (other[0] as number) ^ 0xff;
    const changed = errorOf(() => r.accept('gw-1', cborEncode({ v: 1, id: 'u', sha: c0.sha256, len: c0.totalBytes, size: c0.chunkBytes, n: c0.count, i: 0, d: other })));
    expect([changed.code, changed.field]).toEqual(['E_FEDERATED_CHUNK', 'chunk.d']);
    // the same update (same digest) cut differently
    const rechunked = splitUpdate(update, { updateId: 'u', maxChunkBytes: 2048 });
    expect(errorOf(() => r.accept('gw-1', rechunked[1] as Uint8Array)).message).toContain('keeps its chunking');
    expect(errorOf(() => r.accept('gw 1', chunks[1] as Uint8Array)).field).toBe('sender');
    expect(r.missing('gw-1', 'u', hex(c0.sha256))).toEqual({ state: 'assembling', count: 4, missing: [1, 2, 3] });
  });

  it('gets every update through random order, duplicates and losses when the sender re-sends what is missing', () => {
    fc.assert(
      fc.property(fc.array(fc.record({ length: fc.integer({ min: 1, max: 8000 }), seed: fc.nat() }), { minLength: 1, maxLength: 6 }), fc.nat(), (updates, seed) => {
        const random = seededRandom(seed);
        const r = reassembler({ maxUpdatesPerSender: 1 });
        const senders = updates.map((u, k) => ({ gw: `gw-${k}`, bytes: randomBytes(u.length, u.seed), chunks: splitUpdate(randomBytes(u.length, u.seed), { updateId: 'x', maxChunkBytes: 1024 }) }));
        const got = new Map<string, Uint8Array>();
        for (let attemptNo = 0; attemptNo < 50 && got.size < senders.length; attemptNo += 1) {
          // each attempt: every sender sends what the reassembler says is missing; the network
          // loses a third, duplicates a third, and shuffles everything
          const wire: [string, Uint8Array][] = [];
          for (const s of senders) {
            if (got.has(s.gw)) continue;
            const report = r.missing(s.gw, 'x', hex(sha256(s.bytes)));
            const indices = report.state === 'assembling' ? report.missing : s.chunks.map((_, i) => i);
            for (const i of indices) {
              const p = random();
              if (p < 1 / 3) continue;
              wire.push([s.gw, s.chunks[i] as Uint8Array]);
              if (p > 2 / 3) wire.push([s.gw, s.chunks[i] as Uint8Array]);
            }
          }
          for (let i = wire.length - 1; i > 0; i -= 1) {
            const j = Math.floor(random() * (i + 1));
            [wire[i], wire[j]] = [wire[j] as [string, Uint8Array], wire[i] as [string, Uint8Array]];
          }
          for (const [gw, c] of wire) {
            const res = r.accept(gw, c);
            if (res.status === 'complete') got.set(gw, res.bytes);
          }
        }
        senders.forEach((s) => expect(same(got.get(s.gw), s.bytes)).toBe(true));
      }),
      { numRuns: 100 },
    );
  });
});
