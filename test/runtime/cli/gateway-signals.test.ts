import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EmbeddedBroker } from '../../../fleet/broker/embedded-broker.js';
import { testGatewayConfig } from '../../support/gateway-config.js';
import { GatewayProcess, type LogLine } from '../../support/gateway-process.js';
import { makeTempDir } from '../../support/temp-dir.js';
import { waitFor } from '../../support/wait-for.js';

describe('gateway signals', () => {
  let dir: { path: string; remove: () => Promise<void> };
  let broker: EmbeddedBroker;
  let gp: GatewayProcess | undefined;
  beforeEach(async () => {
    dir = await makeTempDir();
    broker = await EmbeddedBroker.create({ host: '127.0.0.1', port: 0 });
  });
  afterEach(async () => {
    await gp?.kill('SIGKILL');
    gp = undefined;
    await broker.close();
    await dir.remove();
  });

  it('survives SIGHUP, logs that it was ignored, keeps serving /health, and still stops cleanly on SIGTERM', async () => {
    const configPath = join(dir.path, 'gateway.yaml');
    // Port 0: the gateway binds what it gets and names the URL in its gateway.started line.
    await writeFile(configPath, testGatewayConfig({ id: 'gw-hup', dataDir: join(dir.path, 'data'), url: broker.url, sources: [{ id: 's1', rateHz: 10 }], healthListen: '127.0.0.1:0', logLevel: 'info' }));
    const lines: LogLine[] = [];
    gp = GatewayProcess.start(configPath, (l) => lines.push(l));
    const health = await waitFor(() => lines.find((l) => l.event === 'gateway.started')?.['health'] as string | undefined, 'the gateway.started line with its health URL');
    expect(health).toMatch(/^http:\/\/127\.0\.0\.1:[1-9]\d*\/health$/);
    await waitFor(async () => (await fetch(health)).status === 200, 'the gateway to serve /health ok');

    gp.child.kill('SIGHUP');
    const ignored = await waitFor(() => lines.find((l) => l.event === 'gateway.sighup_ignored'), 'the SIGHUP log line');
    expect(ignored).toMatchObject({ level: 30, msg: 'SIGHUP ignored: restart to apply config changes (systemd reload is not supported)' });
    expect(gp.child.exitCode).toBeNull();
    expect(gp.child.signalCode).toBeNull();
    expect((await fetch(health)).status).toBe(200);

    expect(await gp.kill('SIGTERM')).toEqual({ code: 0, signal: null });
  });

  it('stops cleanly (exit 0, drained) on a SIGTERM that comes the moment it says it started, start after start', async () => {
    // The bench that found this sent SIGTERM on the gateway.started line: the handlers were
    // installed only after the start's last synchronous work, and Node's default for SIGTERM
    // (die at once) won 2 times in 4. Now they are installed before the start.
    const configPath = join(dir.path, 'gateway.yaml');
    await writeFile(configPath, testGatewayConfig({ id: 'gw-term', dataDir: join(dir.path, 'data'), url: broker.url, sources: [{ id: 's1', rateHz: 10 }], logLevel: 'info' }));
    for (let i = 0; i < 4; i += 1) {
      const lines: LogLine[] = [];
      const started = GatewayProcess.start(configPath, (l) => {
        lines.push(l);
        if (l.event === 'gateway.started') started.child.kill('SIGTERM');
      });
      gp = started;
      expect(await started.exited, `start ${i + 1}: ${started.stderr}`).toEqual({ code: 0, signal: null });
      expect(lines.map((l) => l.event).filter((e) => e === 'gateway.stopping' || e === 'gateway.stopped')).toEqual(['gateway.stopping', 'gateway.stopped']);
      gp = undefined;
    }
  });
});
