import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { decodeRecord } from '../../../fleet/protocol/index.js';
import { FLEET_CONSUMER, type OutboxReader } from '../../../runtime/store/outbox.js';
import { assertBuilt, CLI } from '../../support/gateway-process.js';
import { openOutbox } from '../../support/store.js';
import { makeTempDir } from '../../support/temp-dir.js';
import { waitFor } from '../../support/wait-for.js';

const CONSUMERS = [FLEET_CONSUMER, 'sparkplug'] as const;
const RUNS = 3;
const DIST = join(dirname(CLI), '..');

/**
 * The child: the compiled outbox (as a gateway runs it) with two consumers. A writer appends
 * 20 records every 5 ms and prints what was stored; the fleet drains fast (batches of 50, all
 * acknowledged at once); Sparkplug slowly (batches of 10, the second half acknowledged first,
 * and every fifth batch's second half handed back by a release, as after a lost connection).
 * A line is printed only after the call it reports returned.
 */
const CHILD = `
import { setTimeout as sleep } from 'node:timers/promises';
const { openOutbox } = await import(process.env.STORE_JS);
const { decodeRecord } = await import(process.env.PROTOCOL_JS);
const o = await openOutbox(process.env.OUTBOX_DIR, { maxSizeBytes: 2 ** 30, sync: false, consumers: ['fleet', 'sparkplug'] });
const out = (v) => process.stdout.write(JSON.stringify(v) + '\\n');
const ks = (records) => records.map((r) => decodeRecord(r.value).data.k);
let k = Number(process.env.START_K);
out({ ready: true });
(async () => {
  for (;;) {
    const batch = Array.from({ length: 20 }, () => ({ stream: 's', class: k % 7 === 0 ? 'alert' : 'telemetry', ts: 1, data: { k: k++ } }));
    const { ids } = await o.outbox.append(batch);
    out({ stored: batch.filter((_, i) => ids[i] !== null).map((r) => r.data.k) });
    await sleep(5);
  }
})();
(async () => {
  const fleet = o.outbox.consumer('fleet');
  for (;;) {
    const got = await fleet.readNext(50, 2 ** 30);
    if (got.length === 0) { await sleep(2); continue; }
    await new Promise((r) => setImmediate(r));
    fleet.ack(got);
    out({ c: 'fleet', acked: ks(got) });
  }
})();
(async () => {
  const spb = o.outbox.consumer('sparkplug');
  for (let n = 1; ; n += 1) {
    const got = await spb.readNext(10, 2 ** 30);
    if (got.length === 0) { await sleep(2); continue; }
    await sleep(5);
    const back = got.slice(5);
    if (n % 5 === 0) {
      await spb.releaseAll();
      continue;
    }
    spb.ack(back);
    out({ c: 'sparkplug', acked: ks(back) });
    spb.ack(got.slice(0, 5));
    out({ c: 'sparkplug', acked: ks(got.slice(0, 5)) });
  }
})();
`;

describe('outbox consumers under kill -9', () => {
  let dir: { path: string; remove: () => Promise<void> };
  beforeEach(async () => {
    dir = await makeTempDir();
  });
  afterEach(async () => {
    await dir.remove();
  });

  it(`loses no record for either of two consumers across ${RUNS} kill -9s mid-stream, and each resumes where it acknowledged`, { timeout: 60_000 }, async () => {
    assertBuilt();
    const stored = new Set<number>();
    const acked = new Map<string, Set<number>>(CONSUMERS.map((c) => [c, new Set()]));
    for (let run = 0; run < RUNS; run += 1) {
      // k ranges per run never overlap: a batch stored but not yet reported still has a unique k.
      const child = spawn(process.execPath, ['--input-type=module', '-e', CHILD], {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: {
          ...process.env,
          STORE_JS: pathToFileURL(join(DIST, 'test', 'support', 'store.js')).href,
          PROTOCOL_JS: pathToFileURL(join(DIST, 'fleet', 'protocol', 'index.js')).href,
          OUTBOX_DIR: `${dir.path}/data`,
          START_K: String(run * 1_000_000),
        },
      });
      const exited = new Promise<NodeJS.Signals | null>((resolve) => child.once('exit', (_code, signal) => resolve(signal)));
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => {
        if (stderr.length < 16_000) stderr += d.toString();
      });
      const ackedThisRun = new Map<string, number>(CONSUMERS.map((c) => [c, 0]));
      createInterface({ input: child.stdout }).on('line', (line) => {
        const v = JSON.parse(line) as { stored?: number[]; c?: string; acked?: number[] };
        for (const x of v.stored ?? []) stored.add(x);
        if (v.c !== undefined && v.acked !== undefined) {
          for (const x of v.acked) acked.get(v.c)?.add(x);
          ackedThisRun.set(v.c, (ackedThisRun.get(v.c) ?? 0) + v.acked.length);
        }
      });
      // Killed mid-stream: both consumers have acknowledged something in this run, a different amount each run.
      await waitFor(() => (ackedThisRun.get('sparkplug') ?? 0) >= 40 + run * 30, 'both consumers acknowledging records', 20_000, 5).catch((err: unknown) => {
        child.kill('SIGKILL');
        throw new Error(`${(err as Error).message}; stderr: ${stderr}`);
      });
      child.kill('SIGKILL');
      expect(await exited).toBe('SIGKILL');
    }
    expect(stored.size).toBeGreaterThan(500);
    const fleetAcked = acked.get(FLEET_CONSUMER) as Set<number>;
    const spbAcked = acked.get('sparkplug') as Set<number>;
    // The paces differed: the fleet had acknowledged records Sparkplug had not.
    expect([...fleetAcked].filter((x) => !spbAcked.has(x)).length).toBeGreaterThan(0);

    const o = await openOutbox(`${dir.path}/data`, { maxSizeBytes: 2 ** 30, sync: false, consumers: CONSUMERS });
    try {
      const drained = new Map<string, number[]>();
      for (const name of CONSUMERS) {
        const reader: OutboxReader = o.outbox.consumer(name);
        const ks: number[] = [];
        for (;;) {
          const got = await reader.readNext(500, 2 ** 30);
          if (got.length === 0) break;
          ks.push(...got.map((r) => (decodeRecord(r.value).data as { k: number }).k));
          reader.ack(got);
        }
        drained.set(name, ks);
        const mine = acked.get(name) as Set<number>;
        // Nothing lost: every stored record was acknowledged by this consumer or comes now.
        const got = new Set(ks);
        expect([...stored].filter((x) => !mine.has(x) && !got.has(x))).toEqual([]);
        // In store order, once.
        expect(ks).toEqual([...got].sort((a, b) => a - b));
        // Resumed where it acknowledged, not from the start: what comes again is a few batches
        // acknowledged just before a kill (their acknowledgement not yet written).
        const again = ks.filter((x) => mine.has(x)).length;
        expect(again, `${name}: ${again} of ${mine.size} acknowledged records came again`).toBeLessThan(Math.max(200, mine.size / 4));
      }
      await o.outbox.flushDeletes();
      expect(o.outbox.size).toBe(0);
    } finally {
      await o.close();
    }
  });
});
