import { availableParallelism, totalmem } from 'node:os';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { decodeHealth, gatewayTopics, type HealthMessage } from '../../../fleet/protocol/index.js';
import type { InferenceBackend } from '../../../models/engine/engine.js';
import { parseConfig } from '../../../runtime/config/load.js';
import { Gateway } from '../../../runtime/gateway.js';
import { builtinRegistry } from '../../../runtime/plugins.js';
import { useGatewayRig } from '../../support/gateway-rig.js';
import { waitFor } from '../../support/wait-for.js';

/** A gateway whose timer would publish its health only once an hour: any report sooner came from a connect (or the probe's answer). */
function config(id: string, dataDir: string, url: string): string {
  return `
gateway: { id: ${id}, dataDir: ${JSON.stringify(dataDir)}, shutdownTimeoutMs: 5000 }
uplink: { url: ${url}, connectTimeoutMs: 2000, reconnect: { minDelayMs: 100, maxDelayMs: 500 } }
health: { intervalMs: 3600000 }
log: { level: warn }
`;
}

/** An engine whose probe is under the test's control; nothing is ever loaded on it. */
function fakeBackend(availableProviders: () => Promise<readonly string[]>): InferenceBackend {
  return { name: 'fake', availableProviders, load: () => Promise.reject(new Error('not used')) };
}

describe('health report: hardware, and publishing on connect', () => {
  const rig = useGatewayRig();

  /** Every report the broker gets on the gateway's health topic, decoded as the fleet decodes it (a refused one fails the test). */
  async function collectHealth(gw: string): Promise<{ reports: HealthMessage[]; refused: Error[] }> {
    const reports: HealthMessage[] = [];
    const refused: Error[] = [];
    await rig.broker.subscribe(gatewayTopics.health(gw), (_topic, payload) => {
      try {
        reports.push(decodeHealth(payload));
      } catch (err) {
        refused.push(err as Error);
      }
    });
    return { reports, refused };
  }

  it('publishes the report right after connecting and after every reconnect, with the hardware and the accelerators the engine probed', async () => {
    const { reports, refused } = await collectHealth('gw-hw');
    const registry = builtinRegistry();
    const gw = await Gateway.create(parseConfig(config('gw-hw', rig.dir.path, rig.broker.url), 'test', registry), registry, { logger: pino({ level: 'silent' }) });
    rig.gateway = gw;
    await gw.start();

    const first = await waitFor(() => reports.find((r) => r.hardware?.accelerators.includes('cpu')), 'a health report listing the cpu provider', 10_000);
    expect(first.hardware).toEqual({ arch: process.arch, platform: process.platform, cpus: availableParallelism(), memoryBytes: totalmem(), accelerators: expect.arrayContaining(['cpu']) as unknown as string[] });
    expect(first.gw).toBe('gw-hw');
    // No updates section: no releases at all (not an empty map).
    expect(first.releases).toBeNull();
    expect('releases' in first.report).toBe(false);

    // The broker goes away and comes back: the reconnect publishes at once, not an hour later.
    await rig.broker.stop();
    await waitFor(() => !gw.uplink.stats().connected, 'the uplink to notice the broker is gone');
    const before = reports.length;
    await rig.broker.start();
    const again = await waitFor(() => reports.slice(before).find((r) => (r.report['uplink'] as { reconnects: number }).reconnects === 1), 'a health report after the reconnect', 10_000);
    expect((again.report['uplink'] as { connected: boolean }).connected).toBe(true);
    expect(again.hardware?.accelerators).toContain('cpu');
    expect(refused).toEqual([]);
  });

  it('starts without waiting for the provider probe and reports no accelerators until it answers', async () => {
    const { reports, refused } = await collectHealth('gw-slowprobe');
    let answer: (providers: readonly string[]) => void = () => undefined;
    const probe = new Promise<readonly string[]>((resolve) => {
      answer = resolve;
    });
    const registry = builtinRegistry();
    const gw = await Gateway.create(parseConfig(config('gw-slowprobe', rig.dir.path, rig.broker.url), 'test', registry), registry, { logger: pino({ level: 'silent' }), backend: fakeBackend(() => probe) });
    rig.gateway = gw;
    await gw.start(); // would hang here if the start awaited the probe

    // Only the connect can have published this one: the probe has not answered, the timer is an hour away.
    const onConnect = await waitFor(() => reports[0], 'the health report published on connect', 10_000);
    expect(onConnect.hardware).toMatchObject({ arch: process.arch, accelerators: [] });
    expect(gw.health().hardware?.accelerators).toEqual([]);

    answer(['cpu', 'cuda']);
    const probed = await waitFor(() => reports.find((r) => (r.hardware?.accelerators.length ?? 0) > 0), 'a report once the probe answered', 10_000);
    expect(probed.hardware?.accelerators).toEqual(['cpu', 'cuda']);
    expect(refused).toEqual([]);
  });

  it('reports no accelerators when the probe fails, says so as a named event, and still starts', async () => {
    const lines: { event?: string; code?: string; component?: string; reason?: string }[] = [];
    const logger = pino({ level: 'info' }, { write: (line: string) => lines.push(JSON.parse(line) as (typeof lines)[number]) });
    const registry = builtinRegistry();
    const gw = await Gateway.create(parseConfig(config('gw-badprobe', rig.dir.path, 'mqtt://127.0.0.1:1'), 'test', registry), registry, {
      logger,
      backend: fakeBackend(() => Promise.reject(new Error('libonnxruntime.so: cannot open shared object file'))),
    });
    rig.gateway = gw;
    await gw.start();
    const failed = await waitFor(() => lines.find((l) => l.event === 'engine.probe_failed'), 'the engine.probe_failed event');
    expect(failed).toMatchObject({ component: 'engine', code: 'E_ENGINE_PROBE', reason: expect.stringContaining('libonnxruntime.so') as unknown as string });
    expect(gw.health().hardware?.accelerators).toEqual([]);
    expect(decodeHealth(new TextEncoder().encode(JSON.stringify(gw.health()))).hardware?.accelerators).toEqual([]);
  });
});
