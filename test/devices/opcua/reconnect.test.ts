import { createServer, connect, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeRecordMessage } from '../../../fleet/ingest/record-message.js';
import { fleetFilters } from '../../../fleet/protocol/index.js';
import { parseConfig } from '../../../runtime/config/load.js';
import { Gateway } from '../../../runtime/gateway.js';
import { builtinRegistry } from '../../../runtime/plugins.js';
import { useGatewayRig } from '../../support/gateway-rig.js';
import { OpcuaTestServer } from '../../support/opcua-server.js';
import { freePort, listenOnLoopback } from '../../support/ports.js';
import { makeTempDir } from '../../support/temp-dir.js';
import { waitFor } from '../../support/wait-for.js';

const ITEMS = 1000;
const TICK_MS = 500;
const OUTAGE_MS = 5000;

/** A TCP relay to the server that can cut every connection and refuse new ones for a while (a network cut; the server stays up). */
class CuttableProxy {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  port = 0;
  constructor(private readonly target: number) {}

  async listen(port = 0): Promise<void> {
    this.server = createServer((c) => {
      const u = connect(this.target, '127.0.0.1');
      this.sockets.add(c).add(u);
      c.pipe(u).pipe(c);
      const end = (): void => {
        c.destroy();
        u.destroy();
        this.sockets.delete(c);
        this.sockets.delete(u);
      };
      for (const s of [c, u]) s.on('error', end).on('close', end);
    });
    if (port === 0) this.port = await listenOnLoopback(this.server);
    else await new Promise<void>((resolve) => this.server?.listen(port, '127.0.0.1', resolve));
  }

  async cut(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    for (const x of this.sockets) x.destroy();
    this.sockets.clear();
    await new Promise<void>((resolve) => (s === undefined ? resolve() : s.close(() => resolve())));
  }
}

interface Stored {
  /** per item, every value stored (in arrival order). */
  readonly values: Map<string, number[]>;
}

describe('opcua source: 1,000 monitored items across a 5 s outage', () => {
  const rig = useGatewayRig();
  let dir: { path: string; remove: () => Promise<void> };
  let serverPki: string;
  // One server process for both tests (a start costs seconds of CPU): the second test stops it and starts another.
  let server: OpcuaTestServer;

  beforeAll(async () => {
    dir = await makeTempDir('edgewise-opcua-rc-');
    serverPki = join(dir.path, 'server-pki');
    server = await OpcuaTestServer.start({ port: await freePort(), vars: ITEMS, pkiDir: serverPki, intervalMs: TICK_MS });
  });
  afterAll(async () => {
    await server?.stop();
    await dir?.remove();
  });

  async function startGateway(endpoint: string, stored: Stored): Promise<Gateway> {
    await rig.broker.subscribe(fleetFilters.records, (topic, payload) => {
      for (const r of decodeRecordMessage(topic, payload).records) {
        if (r.stream !== 'press.all') continue;
        for (const [name, vs] of Object.entries((r.data as { values: Record<string, number[]> }).values)) {
          const list = stored.values.get(name) ?? [];
          list.push(...vs);
          stored.values.set(name, list);
        }
      }
    });
    const items = Array.from({ length: ITEMS }, (_, i) => `          - { nodeId: "ns=1;s=v${i}", name: v${i} }`).join('\n');
    const yaml = `
gateway: { id: gw-opcua, dataDir: ${JSON.stringify(`${rig.dir.path}/gw`)} }
uplink: { url: ${rig.broker.url}, connectTimeoutMs: 2000, reconnect: { minDelayMs: 100, maxDelayMs: 1000 } }
devices:
  - id: press
    type: opcua
    endpoint: ${endpoint}
    security: { pkiDir: ${JSON.stringify(join(dir.path, 'client-pki'))} }
    reconnect: { minDelayMs: 250, maxDelayMs: 1000 }
    subscriptions:
      - name: all
        publishingIntervalMs: 250
        items:
${items}
log: { level: warn }
`;
    const registry = builtinRegistry();
    const gw = await Gateway.create(parseConfig(yaml, 'test', registry), registry, { logger: pino({ level: 'silent' }) });
    rig.gateway = gw;
    await gw.start();
    return gw;
  }

  const details = (gw: Gateway): Record<string, unknown> => gw.health().sources.find((s) => s.id === 'press')?.details ?? {};
  /** The source's own answer to "can you read the server?" (what the Sparkplug edge node is told). */
  const answering = (gw: Gateway): boolean | undefined => gw.pipelines.find((p) => p.spec.sourceId === 'press')?.spec.source.answering?.();
  const storedUpTo = (stored: Stored, tick: number): boolean => stored.values.size === ITEMS && [...stored.values.values()].every((vs) => (vs.at(-1) ?? -1) >= tick);

  it('a network cut with the server up: every change stored exactly once, nothing lost', { timeout: 90_000 }, async () => {
    const proxy = new CuttableProxy(server.options.port);
    await proxy.listen();
    try {
      const stored: Stored = { values: new Map() };
      const gw = await startGateway(`opc.tcp://127.0.0.1:${proxy.port}/UA/edgewise-test`, stored);
      const warm = server.lastTick + 2;
      await waitFor(() => storedUpTo(stored, warm), 'every item stored past the current tick', 40_000);
      await proxy.cut();
      await waitFor(() => details(gw)['connected'] === false, 'the source to see the cut', 20_000);
      expect(gw.health().reasons.some((r) => r.startsWith('source press:') && r.includes('disconnected from'))).toBe(true);
      expect(answering(gw)).toBe(false);
      await sleep(OUTAGE_MS); // the outage itself: the server keeps producing meanwhile
      await proxy.listen(proxy.port);
      await waitFor(() => details(gw)['connected'] === true, 'reconnected', 30_000);
      expect(answering(gw)).toBe(true);
      const end = server.lastTick + 2;
      await waitFor(() => storedUpTo(stored, end), `every item stored up to tick ${end}`, 30_000);
      for (const [name, vs] of stored.values) {
        // A notification filled in by republish arrives after newer ones: compare as sets.
        const upTo = vs.filter((v) => v <= end).sort((a, b) => a - b);
        const first = upTo[0] ?? 0;
        // Every tick from the item's first stored value on, once.
        expect(upTo, name).toEqual(Array.from({ length: end - first + 1 }, (_, i) => first + i));
      }
      const d = details(gw);
      expect(d).toMatchObject({ 'lostNotifications.republishUnavailable': 0, missingNotifications: 0, subscriptionsRecreated: 0, sessionsRecreated: 0, droppedSamples: 0 });
      expect(d['reconnects'] as number).toBeGreaterThanOrEqual(1);
      expect(gw.health().reasons.filter((r) => r.startsWith('source press:'))).toEqual([]);
    } finally {
      await proxy.cut();
      await rig.gateway?.stop();
      rig.gateway = undefined;
    }
  });

  it('the server process stopped for 5 s: what it produced is stored once or lost inside the outage, and the loss is reported with its reason', { timeout: 120_000 }, async () => {
    const first = server;
    const port = first.options.port;
    let second: OpcuaTestServer | undefined;
    try {
      const stored: Stored = { values: new Map() };
      const gw = await startGateway(first.url, stored);
      const warm = first.lastTick + 2;
      await waitFor(() => storedUpTo(stored, warm), 'every item stored past the current tick', 40_000);
      await first.stop();
      const lastOfFirst = first.lastTick;
      await waitFor(() => details(gw)['connected'] === false, 'the source to see the server gone', 20_000);
      await sleep(OUTAGE_MS);
      // The restarted server goes on counting from well past the old ticks: its values cannot be mistaken for the old ones.
      const restartAt = lastOfFirst + 1000;
      second = await OpcuaTestServer.start({ port, vars: ITEMS, pkiDir: serverPki, intervalMs: TICK_MS, startTick: restartAt });
      server = second;
      // The ticks of the new server before the items exist again are changes nobody subscribed to yet: lost in the outage too.
      const resubscribedAt = await waitFor(
        () => (details(gw)['connected'] === true && (details(gw)['subscriptionsRecreated'] as number) >= 1 ? second?.lastTick : undefined),
        'reconnected with the subscription recreated',
        40_000,
      );
      const end = second.lastTick + 2;
      await waitFor(() => storedUpTo(stored, end), `every item stored up to tick ${end}`, 40_000);

      let produced = 0;
      let storedCount = 0;
      let lost = 0;
      for (const [name, vs] of stored.values) {
        const upTo = vs.filter((v) => v <= end).sort((a, b) => a - b);
        expect(new Set(upTo).size, `${name}: no value stored twice`).toBe(upTo.length);
        const old = upTo.filter((v) => v <= lastOfFirst);
        const since = old[0] ?? 0;
        // The first server: a run of ticks from the item's first value on, then nothing (the rest died with it).
        expect(old, name).toEqual(Array.from({ length: old.length }, (_, i) => since + i));
        // The second server: from the value the recreated item started with, every tick, all stored.
        const fresh = upTo.filter((v) => v >= restartAt);
        const from = fresh[0] ?? end;
        expect(from, name).toBeLessThanOrEqual(resubscribedAt + 1);
        expect(fresh, name).toEqual(Array.from({ length: end - from + 1 }, (_, i) => from + i));
        produced += lastOfFirst - since + 1 + (end - restartAt + 1);
        storedCount += upTo.length;
        lost += lastOfFirst - (old.at(-1) ?? since - 1) + (from - restartAt);
      }
      // stored + lost covers what was produced; the lost ones are the last ticks of the dead server (its queue and the cut).
      expect(storedCount + lost).toBe(produced);
      // Lost: the old server's last ticks and the new one's first, nothing outside the outage.
      expect(lost).toBeLessThanOrEqual(ITEMS * (4 + resubscribedAt - restartAt + 1));
      const d = details(gw);
      expect(d).toMatchObject({ 'lostNotifications.subscriptionRecreated': 1, subscriptionsTransferred: 0, droppedSamples: 0 });
    } finally {
      await rig.gateway?.stop();
      rig.gateway = undefined;
      await first.stop();
    }
  });
});
