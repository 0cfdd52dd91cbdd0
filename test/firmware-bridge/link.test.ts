import fc from 'fast-check';
import { describe, expect, it, vi } from 'vitest';
import { seededRandom } from '../../devices/synthetic/signals.js';
import { FrameDecoder, encodeFrame, type Frame } from '../../firmware-bridge/frame.js';
import { LinkEndpoint, seqBefore } from '../../firmware-bridge/link.js';
import { encodePayload, messageCode, type Message } from '../../firmware-bridge/messages.js';

/** Corrupts each byte with probability `p` (replaced by a different random byte). */
function corrupt(bytes: Uint8Array, p: number, random: () => number): { out: Uint8Array; hit: boolean[] } {
  const out = bytes.slice();
  const hit = new Array<boolean>(bytes.length).fill(false);
  for (let i = 0; i < out.length; i += 1) {
    if (random() < p) {
      out[i] = ((out[i] as number) + 1 + Math.floor(random() * 255)) & 0xff;
      hit[i] = true;
    }
  }
  return { out, hit };
}

/** Two link ends joined by a wire that corrupts bytes and delivers them a turn later, in chunks. */
function lossyPair(p: number, seed: number): { mcu: LinkEndpoint; gateway: LinkEndpoint; toGateway: Message[]; toMcu: Message[] } {
  const random = seededRandom(seed);
  const toGateway: Message[] = [];
  const toMcu: Message[] = [];
  // eslint-disable-next-line prefer-const
  let gateway: LinkEndpoint;
  const wire = (deliver: () => LinkEndpoint) => (bytes: Uint8Array): void => {
    const { out } = corrupt(bytes, p, random);
    setImmediate(() => deliver().receive(out));
  };
  const mcu = new LinkEndpoint({ write: wire(() => gateway), deliver: (m) => toMcu.push(m), retransmitTimeoutMs: 20, windowFrames: 8, random });
  gateway = new LinkEndpoint({ write: wire(() => mcu), deliver: (m) => toGateway.push(m), retransmitTimeoutMs: 20, windowFrames: 8, random });
  return { mcu, gateway, toGateway, toMcu };
}

/**
 * Runs `body` on a fake clock (timeouts, immediates and Date.now), driving it in 5 ms steps
 * until `body` settles; fails after `limitMs` of fake time. The link's retransmit timers and
 * the simulated wires then behave the same on a loaded machine as on an idle one: a
 * setImmediate that a busy machine runs late cannot pass for a lost frame.
 */
async function onFakeClock<T>(body: () => Promise<T>, limitMs = 600_000): Promise<T> {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setImmediate', 'clearImmediate', 'setInterval', 'clearInterval', 'Date'] });
  try {
    let settled = false;
    const run = body().finally(() => {
      settled = true;
    });
    run.catch(() => undefined);
    const t0 = Date.now();
    while (!settled && Date.now() - t0 < limitMs) await vi.advanceTimersByTimeAsync(5);
    if (!settled) throw new Error(`not done after ${limitMs} ms of fake time`);
    return await run;
  } finally {
    vi.useRealTimers();
  }
}

/** Resolves once `condition` holds, polling on whatever clock is installed (the fake one, here). */
async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((r) => setTimeout(r, 5));
}

/**
 * Frames of 5 samples x 3 channels (about 100 bytes on the wire): at 1% byte corruption such
 * a frame arrives intact 37% of the time (a 1 KB frame, 0.003%). An MCU on a noisy line
 * sends short frames; see PROTOCOL.md.
 */
const PER_FRAME = 5;
const samples = (i: number): Message => ({
  type: 'samples',
  bootId: 1,
  firstIndex: i * PER_FRAME,
  firstTickUs: i * 5000,
  sampleRateMilliHz: 1_000_000,
  channelMask: 0b111,
  count: PER_FRAME,
  values: [0, 1, 2].map((c) => Array.from({ length: PER_FRAME }, (_, k) => Math.fround(c + (i * PER_FRAME + k) / 7))),
});

describe('link layer', () => {
  it('u16 sequence order wraps around', () => {
    expect(seqBefore(0xfffe, 1)).toBe(true);
    expect(seqBefore(1, 0xfffe)).toBe(false);
    expect(seqBefore(5, 5)).toBe(false);
    fc.assert(fc.property(fc.integer({ min: 0, max: 0xffff }), fc.integer({ min: 1, max: 0x7fff }), (a, d) => {
        expect(seqBefore(a, (a + d) & 0xffff)).toBe(true);
      }),
    );
  });

  it('with 1% of bytes corrupted, every uncorrupted frame is recovered', () => {
    const random = seededRandom(11);
    const frames: Uint8Array[] = Array.from({ length: 3000 }, (_, i) => encodeFrame({ type: messageCode('samples'), flags: 1, session: 1, seq: i & 0xffff, payload: encodePayload(samples(i)) }));
    const stream = new Uint8Array(frames.reduce((n, f) => n + f.length, 1));
    let at = 1;
    const spans: [number, number][] = [];
    for (const f of frames) {
      stream.set(f, at);
      spans.push([at - 1, at + f.length]); // the delimiter before it through its own delimiter
      at += f.length;
    }
    const { out, hit } = corrupt(stream, 0.01, random);
    const intact = new Set<number>();
    spans.forEach(([from, to], i) => {
      if (!hit.slice(from, to).some(Boolean)) intact.add(i);
    });
    const decoder = new FrameDecoder();
    const got = new Set<number>();
    for (let i = 0; i < out.length; i += 100) decoder.push(out.subarray(i, i + 100), (f: Frame) => got.add(f.seq));
    expect(intact.size).toBeGreaterThan(100); // the test means something
    for (const i of intact) expect(got.has(i)).toBe(true);
    expect(decoder.counters.crcErrors + decoder.counters.malformed).toBeGreaterThan(100);
  });

  it('with 1% of bytes corrupted both ways, 100% of samples arrive exactly once, in order', async () => {
    const { mcu, gateway, toGateway } = lossyPair(0.01, 3);
    const total = 1500;
    let next = 0;
    const pump = async (): Promise<void> => {
      while (next < total) {
        if (!mcu.hasRoom()) {
          await new Promise((r) => setImmediate(r));
          continue;
        }
        void mcu.sendReliable(samples(next)).catch(() => undefined);
        next += 1;
      }
    };
    // Thousands of 20 ms retransmit timeouts: on the fake clock they take no real time, and
    // the same seed gives the same run on any machine.
    await onFakeClock(async () => {
      await pump();
      await until(() => toGateway.length >= total && mcu.idle);
    });
    const indexes = toGateway.map((m) => (m.type === 'samples' ? m.firstIndex : -1));
    expect(indexes).toEqual(Array.from({ length: total }, (_, i) => i * PER_FRAME));
    expect(toGateway).toEqual(Array.from({ length: total }, (_, i) => samples(i)));
    expect(mcu.counters.retransmits).toBeGreaterThan(0);
    expect(gateway.counters.crcErrors + gateway.counters.malformed).toBeGreaterThan(0);
    mcu.close();
    gateway.close();
  });

  it('a restarted receiver asks for a new session and loses nothing still in flight', async () => {
    const toGateway: Message[] = [];
    let gateway!: LinkEndpoint;
    let cut = false;
    const mcu = new LinkEndpoint({ write: (b) => !cut && setImmediate(() => gateway.receive(b)), deliver: () => undefined, retransmitTimeoutMs: 20 });
    const makeGateway = (): LinkEndpoint => new LinkEndpoint({ write: (b) => setImmediate(() => mcu.receive(b)), deliver: (m) => toGateway.push(m), retransmitTimeoutMs: 20 });
    gateway = makeGateway();
    await mcu.sendReliable(samples(0));
    cut = true;
    const inFlight = mcu.sendReliable(samples(1));
    gateway.close();
    gateway = makeGateway(); // a gateway restart: no session known
    cut = false;
    await inFlight;
    await mcu.sendReliable(samples(2));
    expect(toGateway.map((m) => (m.type === 'samples' ? m.firstIndex : -1))).toEqual([0, PER_FRAME, 2 * PER_FRAME]);
    expect(gateway.counters.unsynced).toBeGreaterThan(0);
    mcu.close();
    gateway.close();
  });
});

describe('link layer: peers that restart, stale messages and slow lines', () => {
  /** Two ends on a clean wire; `cut` silences the MCU -> gateway direction. */
  function pair(mcuRandom: () => number): { mcu: LinkEndpoint; gateway: LinkEndpoint; got: Message[]; makeMcu: (r: () => number) => LinkEndpoint } {
    const got: Message[] = [];
    let gateway!: LinkEndpoint;
    let mcu!: LinkEndpoint;
    const makeMcu = (random: () => number): LinkEndpoint => new LinkEndpoint({ write: (b) => setImmediate(() => gateway.receive(b)), deliver: () => undefined, retransmitTimeoutMs: 20, random });
    mcu = makeMcu(mcuRandom);
    gateway = new LinkEndpoint({ write: (b) => setImmediate(() => mcu.receive(b)), deliver: (m) => got.push(m), retransmitTimeoutMs: 20 });
    return { mcu, gateway, got, makeMcu: (r) => (mcu = makeMcu(r)) };
  }

  it('a rebooted sender that picks the same session id again is still taken as a new session', async () => {
    // The same random sequence: the same session id, and a different starting seq would be a
    // coincidence; force a different seq by consuming one more draw after the session id.
    const draws = [0.5, 0.9, 0.5, 0.1];
    let i = 0;
    const scripted = (): number => draws[i++ % draws.length] as number;
    const p = pair(scripted);
    await p.mcu.sendReliable(samples(0));
    const firstSession = p.mcu.session;
    p.mcu.close();
    const rebooted = p.makeMcu(scripted); // draws 0.5 again for the session id
    expect(rebooted.session).toBe(firstSession);
    await rebooted.sendReliable(samples(1));
    await rebooted.sendReliable(samples(2));
    expect(p.got.map((m) => (m.type === 'samples' ? m.firstIndex : -1))).toEqual([0, PER_FRAME, 2 * PER_FRAME]);
    rebooted.close();
    p.gateway.close();
  });

  it('ignores a NACK unsynced about a session it no longer uses', () => {
    const writes: Uint8Array[] = [];
    let peerUnsynced = 0;
    const link = new LinkEndpoint({ write: (b) => writes.push(b), deliver: () => undefined, onPeerUnsynced: () => (peerUnsynced += 1) });
    const stale = link.session === 1 ? 2 : 1;
    link.receive(encodeFrame({ type: messageCode('nack'), flags: 0, session: stale, seq: 0, payload: encodePayload({ type: 'nack', expectedSeq: 0, reason: 'unsynced' }) }));
    expect(peerUnsynced).toBe(0);
    link.receive(encodeFrame({ type: messageCode('nack'), flags: 0, session: link.session, seq: 0, payload: encodePayload({ type: 'nack', expectedSeq: 0, reason: 'unsynced' }) }));
    expect(peerUnsynced).toBe(1);
    link.close();
  });

  it('on a slow line it does not resend frames still queued in the UART', async () => {
    // On the fake clock the wire's delays, the retransmit timer and Date.now agree exactly,
    // so the elapsed-time bound below is about the protocol, not about the machine's load.
    await onFakeClock(slowLine);
  });

  async function slowLine(): Promise<void> {
    const BPS = 11_520; // 115200 baud
    const got: Message[] = [];
    let gateway!: LinkEndpoint;
    let lineFreeAt = 0;
    /** A wire that carries BPS bytes a second. */
    const slowWire = (deliver: () => LinkEndpoint) => (b: Uint8Array): void => {
      lineFreeAt = Math.max(Date.now(), lineFreeAt) + (b.length * 1000) / BPS;
      setTimeout(() => deliver().receive(b), lineFreeAt - Date.now());
    };
    const mcu = new LinkEndpoint({ write: slowWire(() => gateway), deliver: () => undefined, retransmitTimeoutMs: 100, lineBytesPerSecond: BPS });
    gateway = new LinkEndpoint({ write: (b) => setImmediate(() => mcu.receive(b)), deliver: (m) => got.push(m), retransmitTimeoutMs: 100 });
    const chunk = (offset: number): Message => ({ type: 'fwChunk', offset, data: new Uint8Array(512).fill(offset & 0xff) });
    const t0 = Date.now();
    const total = 48; // 24 KiB: about 2.2 s of line time
    const sends: Promise<void>[] = [];
    for (let k = 0; k < total; k += 1) {
      while (!mcu.hasRoom()) await mcu.whenRoom();
      sends.push(mcu.sendReliable(chunk(k * 512)));
    }
    await Promise.all(sends);
    const elapsed = Date.now() - t0;
    expect(got).toHaveLength(total);
    expect(mcu.counters.retransmits).toBe(0);
    // The line stays busy: not much more than the line time, so no stop-and-wait per frame.
    expect(elapsed).toBeLessThan(((total * 530) / BPS) * 1000 * 1.5);
    mcu.close();
    gateway.close();
  }

  it('a throwing application does not break the link', async () => {
    let calls = 0;
    let gateway!: LinkEndpoint;
    const mcu = new LinkEndpoint({ write: (b) => setImmediate(() => gateway.receive(b)), deliver: () => undefined, retransmitTimeoutMs: 20 });
    gateway = new LinkEndpoint({
      write: (b) => setImmediate(() => mcu.receive(b)),
      deliver: () => {
        calls += 1;
        if (calls === 1) throw new Error('application bug');
      },
      retransmitTimeoutMs: 20,
    });
    await mcu.sendReliable(samples(0));
    await mcu.sendReliable(samples(1));
    expect(calls).toBe(2);
    expect(gateway.counters.deliverErrors).toBe(1);
    mcu.close();
    gateway.close();
  });
});
