import { writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { Aedes } from 'aedes';
import mqtt from 'mqtt';
import { EmbeddedBroker } from '../../../fleet/broker/embedded-broker.js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { testGatewayConfig } from '../../support/gateway-config.js';
import { GatewayProcess, type LogLine } from '../../support/gateway-process.js';
import { freePort, listenOnLoopback } from '../../support/ports.js';
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
    // Nothing ever listens there: the broker is down throughout. freePort picks a port below
    // the ephemeral range, which no other listener on the machine is handed meanwhile.
    const port = await freePort();
    const configPath = `${dir.path}/gw.yaml`;
    await writeFile(configPath, testGatewayConfig({ id: 'gw-term', dataDir: `${dir.path}/data`, url: `mqtt://127.0.0.1:${port}`, sources: [{ id: 's1', rateHz: 5000 }], logLevel: 'debug' }));
    const lines: LogLine[] = [];
    let committedSeq = -1;
    proc = GatewayProcess.start(configPath, (l) => {
      if (l.event?.startsWith('gateway.') === true) lines.push(l);
      // store.committed (debug) names the last record id of each batch: {db}.{epoch}.{seq}, seq in base 36.
      if (l.event === 'store.committed' && typeof l['lastId'] === 'string') committedSeq = Math.max(committedSeq, Number.parseInt(String(l['lastId'].split('.')[2]), 36));
    });
    await waitFor(() => lines.some((l) => l.event === 'gateway.started'), 'the gateway to start');
    // Records flowing into the store, and more in the queues behind them when the signal comes.
    await waitFor(() => committedSeq > 200, 'the gateway storing records', 30_000);
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
    const port = await listenOnLoopback(server);
    try {
      const configPath = `${dir.path}/gw.yaml`;
      await writeFile(configPath, testGatewayConfig({ id: 'gw-silent', dataDir: `${dir.path}/data`, url: `mqtt://127.0.0.1:${port}`, sources: [{ id: 's1', rateHz: 1000 }], logLevel: 'info' }));
      const lines: LogLine[] = [];
      proc = GatewayProcess.start(configPath, (l) => lines.push(l));
      await waitFor(() => lines.some((l) => l.event === 'uplink.connected'), 'the gateway to connect');
      proc.child.kill('SIGTERM');
      // Bounded by the uplink's stop budget (3 s for acks due, the goodbye and the disconnect);
      // without it the gateway would wait for PUBACKs forever. The wait is generous for a
      // loaded machine: what fails it is a gateway that does not stop at all.
      const p = proc;
      await waitFor(() => p.child.exitCode !== null || p.child.signalCode !== null, 'the gateway to exit despite the unacknowledged publishes', 30_000);
      const { code } = await p.exited;
      proc = undefined;
      expect(code).toBe(0);
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
    const port = await listenOnLoopback(server);
    try {
      const configPath = `${dir.path}/gw.yaml`;
      await writeFile(configPath, testGatewayConfig({ id: 'gw-twice', dataDir: `${dir.path}/data`, url: `mqtt://127.0.0.1:${port}`, sources: [{ id: 's1', rateHz: 1000 }], logLevel: 'info' }));
      const lines: LogLine[] = [];
      proc = GatewayProcess.start(configPath, (l) => lines.push(l));
      await waitFor(() => lines.some((l) => l.event === 'uplink.connected'), 'the gateway to connect');
      proc.child.kill('SIGTERM');
      await waitFor(() => lines.some((l) => l.event === 'gateway.stopping'), 'the first signal to be handled');
      proc.child.kill('SIGINT');
      const { code } = await proc.exited;
      proc = undefined;
      // "At once" is what the exit shows, not a stopwatch: 130 is the forced exit, and the
      // first stop (which would log gateway.stopped and exit 0) never finished.
      expect(code).toBe(130);
      expect(lines.some((l) => l.event === 'gateway.forced_exit')).toBe(true);
      expect(lines.some((l) => l.event === 'gateway.stopped')).toBe(false);
    } finally {
      server.close();
      await new Promise<void>((resolve) => aedes.close(() => resolve()));
    }
  });
});
