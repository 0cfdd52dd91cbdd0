import { Writable } from 'node:stream';
import fc from 'fast-check';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../../../runtime/config/load.js';
import { Gateway } from '../../../runtime/gateway.js';
import { EventRateLimit } from '../../../runtime/health/event-rate-limit.js';
import { EventLog } from '../../../runtime/health/events.js';
import { builtinRegistry } from '../../../runtime/plugins.js';
import { testGatewayConfig } from '../../support/gateway-config.js';
import { freePort } from '../../support/ports.js';
import { makeTempDir } from '../../support/temp-dir.js';
import { waitFor } from '../../support/wait-for.js';

/** A pino logger whose lines a test can read. */
function capture(level = 'info'): { logger: pino.Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString('utf8').split('\n')) if (l !== '') lines.push(JSON.parse(l) as Record<string, unknown>);
      done();
    },
  });
  return { logger: pino({ level }, stream), lines };
}

describe('rate-limited event logging', () => {
  it('logs the first of a kind per interval, then one summary with the count and the last one; the metric counts all', async () => {
    let now = 0;
    const { logger, lines } = capture();
    const registry = new Registry();
    const log = new EventLog(logger, registry, { burst: 3, intervalMs: 60_000, maxKinds: 100 }, () => now);
    const outbox = log.for('outbox');
    for (let i = 0; i < 10_000; i += 1) {
      outbox.warn('outbox.evicted', { code: 'E_STORE_BUDGET', evicted: i });
      now += 1; // 10 s in all
    }
    log.for('uplink').warn('uplink.connect_failed', { reason: 'ECONNREFUSED' });
    await new Promise((r) => setImmediate(r));
    expect(lines.filter((l) => l['event'] === 'outbox.evicted')).toHaveLength(3);
    // Another kind is not held back by this one.
    expect(lines.filter((l) => l['event'] === 'uplink.connect_failed')).toHaveLength(1);
    now += 60_000;
    outbox.warn('outbox.evicted', { code: 'E_STORE_BUDGET', evicted: 10_000 });
    await new Promise((r) => setImmediate(r));
    const evicted = lines.filter((l) => l['event'] === 'outbox.evicted');
    expect(evicted).toHaveLength(5);
    expect(evicted[3]).toMatchObject({ notLogged: 9997, intervalS: 60, evicted: 9999, level: 40 });
    expect(String(evicted[3]?.['msg'])).toContain('9997 more within 60 s');
    expect(evicted[4]).toMatchObject({ evicted: 10_000 });
    const metric = (await registry.getSingleMetricAsString('edgewise_events_total')).split('\n').find((l) => l.includes('outbox.evicted'));
    expect(metric).toMatch(/ 10001$/);
    log.flush();
  });

  it('says what it held back when events stop, and at shutdown', async () => {
    const { logger, lines } = capture();
    const log = new EventLog(logger, new Registry(), { burst: 1, intervalMs: 400, maxKinds: 100 });
    for (let i = 0; i < 50; i += 1) log.for('serial').warn('serial.frame_invalid', { code: 'E_FRAME', n: i });
    // No further event comes: the sweeper says it.
    await waitFor(() => lines.some((l) => l['notLogged'] === 49), 'the summary of the held-back events', 5000);
    for (let i = 0; i < 7; i += 1) log.for('serial').warn('serial.frame_invalid', { code: 'E_FRAME', n: i });
    log.flush();
    await new Promise((r) => setImmediate(r));
    expect(lines.filter((l) => l['event'] === 'serial.frame_invalid').map((l) => l['notLogged'] ?? 0)).toEqual([0, 49, 0, 6]);
  });

  it('never logs more than burst lines plus one summary per kind and interval, and loses no count', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.constantFrom('a', 'b', 'c'), fc.integer({ min: 0, max: 5000 })), { maxLength: 300 }), fc.integer({ min: 1, max: 4 }), (events, burst) => {
        let now = 0;
        const limit = new EventRateLimit<number>({ burst, intervalMs: 1000, maxKinds: 2 }, () => now);
        const logged = new Map<string, number>();
        let accounted = 0;
        const summary = (h: { key: string; suppressed: number }): void => {
          accounted += h.suppressed;
          logged.set(`${h.key}@sum`, (logged.get(`${h.key}@sum`) ?? 0) + 1);
        };
        events.forEach(([key, dt], i) => {
          now += dt;
          if (limit.admit(key, i, summary)) accounted += 1;
        });
        limit.flush(summary);
        // Every event is either logged or in a summary's count.
        expect(accounted).toBe(events.length);
        // A summary per interval at most: never more than there were events.
        for (const [k, n] of logged) expect(n).toBeLessThanOrEqual(events.filter(([key]) => `${key}@sum` === k).length);
      }),
    );
  });
});

describe('a gateway evicting with its broker down', () => {
  let dir: { path: string; remove: () => Promise<void> } | undefined;
  let gateway: Gateway | undefined;
  afterEach(async () => {
    await gateway?.stop().catch(() => undefined);
    await dir?.remove();
  });

  it('logs evictions a few times and then in summaries, not once per batch', async () => {
    dir = await makeTempDir();
    const registry = builtinRegistry();
    const { logger, lines } = capture('warn');
    // The broker is down throughout: a port nothing listens on (freePort keeps it below the
    // ephemeral range, so no other listener is handed it while the gateway retries).
    const config = parseConfig(testGatewayConfig({ id: 'gw-evict', dataDir: `${dir.path}/data`, url: `mqtt://127.0.0.1:${await freePort()}`, sources: [{ id: 's1', rateHz: 2000 }], maxSizeBytes: 64 * 1024, sync: false, healthListen: '127.0.0.1:0' }), 'test', registry);
    const gw = await Gateway.create(config, registry, { logger });
    gateway = gw;
    await gw.start();
    // Hundreds of eviction batches (each one an event before the limit).
    await waitFor(() => {
      const evicted = gw.health().store.evicted;
      return Object.values(evicted).reduce((a, b) => a + b, 0) > 5000;
    }, 'thousands of records evicted', 60_000);
    const metrics = await (await fetch(`http://127.0.0.1:${String(gw.healthPort)}/metrics`)).text();
    const events = Number(metrics.split('\n').find((l) => l.startsWith('edgewise_events_total') && l.includes('outbox.evicted'))?.split(' ').pop());
    expect(events).toBeGreaterThan(50);
    expect(lines.filter((l) => l['event'] === 'outbox.evicted').length).toBeLessThanOrEqual(6);
    await gw.stop();
    gateway = undefined;
    // At the stop, what was held back is summarised: every eviction event is accounted for.
    const evictedLines = lines.filter((l) => l['event'] === 'outbox.evicted');
    // A line is one event, or a summary of `notLogged` events.
    const said = evictedLines.reduce((n, l) => n + (l['notLogged'] === undefined ? 1 : Number(l['notLogged'])), 0);
    expect(said).toBeGreaterThanOrEqual(events);
  }, 90_000);
});
