import { writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { Aedes } from 'aedes';
import mqtt from 'mqtt';
import { EmbeddedBroker } from '../../../fleet/broker/embedded-broker.js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { testGatewayConfig } from '../../support/gateway-config.js';
import { GatewayProcess, type LogLine } from '../../support/gateway-process.js';
import { freePort } from '../../support/ports.js';
import { openOutbox } from '../../support/store.js';
import { makeTempDir } from '../../support/temp-dir.js';
import { waitFor } from '../../support/wait-for.js';

describe('gateway shutdown', () => {
  let dir: { path: string; remove: () => Promise<void> };
  let proc: GatewayProcess | undefined;
  beforeEach(async () => {
    dir = await makeTempDir();
  });
  afterEach(async () => {
    await proc?.kill('SIGKILL');
    await dir.remove();
  });

  it('on SIGTERM stops the sources, drains every queue into LevelDB, closes it and exits 0', async () => {
    const port = await freePort(); // nothing listens: the broker is down throughout
    const configPath = `${dir.path}/gw.yaml`;
    await writeFile(configPath, testGatewayConfig({ id: 'gw-term', dataDir: `${dir.path}/data`, url: `mqtt://127.0.0.1:${port}`, sources: [{ id: 's1', rateHz: 5000 }], logLevel: 'info' }));
    const lines: LogLine[] = [];
    proc = GatewayProcess.start(configPath, (l) => {
      if (l.event?.startsWith('gateway.') === true) lines.push(l);
    });
    await waitFor(() => lines.some((l) => l.event === 'gateway.started'), 'the gateway to start');
    await new Promise((r) => setTimeout(r, 500)); // let records flow for a moment
    proc.child.kill('SIGTERM');
    const { code } = await proc.exited;
    proc = undefined;
    expect(code).toBe(0);
    const stopped = lines.find((l) => l.event === 'gateway.stopped') as { drained: boolean; sources: { emitted: number; stored: number; dropped: number }[] } | undefined;
    expect(stopped?.drained).toBe(true);
    const source = stopped?.sources[0];
    expect(source?.emitted).toBeGreaterThan(100);
    // Everything the source handed over reached the store: nothing was left in a queue.
    expect(source?.stored).toBe(source?.emitted);
    expect(source?.dropped).toBe(0);

    // LevelDB was closed cleanly: it opens at once, with every record.
    const reopened = await openOutbox(`${dir.path}/data`, { maxSizeBytes: 1 << 30, sync: false });
    expect(reopened.outbox.size).toBe(source?.stored);
    await reopened.close();
  });

  it('after kill -9 the broker publishes the Last Will: offline, not clean', async () => {
    const broker = await EmbeddedBroker.create();
    try {
      const configPath = `${dir.path}/gw.yaml`;
      await writeFile(configPath, testGatewayConfig({ id: 'gw-will', dataDir: `${dir.path}/data`, url: broker.url, sources: [{ id: 's1', rateHz: 10 }], logLevel: 'info' }));
      const client = await mqtt.connectAsync(broker.url, { protocolVersion: 4 });
      const states: { state: string; clean: boolean }[] = [];
      client.on('message', (_t, payload) => states.push(JSON.parse(payload.toString()) as { state: string; clean: boolean }));
      await client.subscribeAsync('edgewise/v1/gw/gw-will/state', { qos: 1 });
      proc = GatewayProcess.start(configPath);
      await waitFor(() => states.some((s) => s.state === 'online'), 'the gateway online');
      await proc.kill('SIGKILL');
      proc = undefined;
      await waitFor(() => states.some((s) => s.state === 'offline'), 'the Last Will');
      expect(states[states.length - 1]).toMatchObject({ state: 'offline', clean: false });
      await client.endAsync();
    } finally {
      await broker.close();
    }
  });

  it('a broker that never acknowledges does not keep a stopping gateway alive', async () => {
    const aedes = await Aedes.createBroker({ authorizePublish: () => undefined });
    const server: Server = createServer(aedes.handle);
    const port = await freePort();
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    try {
      const configPath = `${dir.path}/gw.yaml`;
      await writeFile(configPath, testGatewayConfig({ id: 'gw-silent', dataDir: `${dir.path}/data`, url: `mqtt://127.0.0.1:${port}`, sources: [{ id: 's1', rateHz: 1000 }], logLevel: 'info' }));
      const lines: LogLine[] = [];
      proc = GatewayProcess.start(configPath, (l) => lines.push(l));
      await waitFor(() => lines.some((l) => l.event === 'uplink.connected'), 'the gateway to connect');
      const t0 = Date.now();
      proc.child.kill('SIGTERM');
      const { code } = await proc.exited;
      proc = undefined;
      expect(code).toBe(0);
      // Bounded by the uplink's stop budget (3 s for acks due, the goodbye and the disconnect).
      expect(Date.now() - t0).toBeLessThan(8000);
      expect(lines.some((l) => l.event === 'gateway.stopped')).toBe(true);
    } finally {
      server.close();
      await new Promise<void>((resolve) => aedes.close(() => resolve()));
    }
  });

  it('a second signal exits at once, even while the first is still draining', async () => {
    // A broker that takes publishes but never acknowledges them: the first SIGTERM waits for acks.
    const aedes = await Aedes.createBroker({ authorizePublish: () => undefined });
    const server: Server = createServer(aedes.handle);
    const port = await freePort();
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    try {
      const configPath = `${dir.path}/gw.yaml`;
      await writeFile(configPath, testGatewayConfig({ id: 'gw-twice', dataDir: `${dir.path}/data`, url: `mqtt://127.0.0.1:${port}`, sources: [{ id: 's1', rateHz: 1000 }], logLevel: 'info' }));
      const lines: LogLine[] = [];
      proc = GatewayProcess.start(configPath, (l) => lines.push(l));
      await waitFor(() => lines.some((l) => l.event === 'uplink.connected'), 'the gateway to connect');
      proc.child.kill('SIGTERM');
      await waitFor(() => lines.some((l) => l.event === 'gateway.stopping'), 'the first signal to be handled');
      const t0 = Date.now();
      proc.child.kill('SIGINT');
      const { code } = await proc.exited;
      proc = undefined;
      expect(code).toBe(130);
      expect(Date.now() - t0).toBeLessThan(1500);
      expect(lines.some((l) => l.event === 'gateway.stopped')).toBe(false);
    } finally {
      server.close();
      await new Promise<void>((resolve) => aedes.close(() => resolve()));
    }
  });
});
