import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../../../runtime/config/load.js';
import { Gateway } from '../../../runtime/gateway.js';
import { builtinRegistry } from '../../../runtime/plugins.js';
import { RecordSubscriber } from '../../../fleet/ingest/record-subscriber.js';
import { Mosquitto } from '../../support/mosquitto.js';
import { makeTempDir } from '../../support/temp-dir.js';
import { makeTlsFiles, type TlsFiles } from '../../support/tls-files.js';
import { waitFor } from '../../support/wait-for.js';

function gatewayYaml(dir: string, port: number, uplink: string): string {
  return `
gateway: { id: gw-tls, dataDir: ${JSON.stringify(`${dir}/data`)} }
devices:
  - { id: s1, type: synthetic, rateHz: 200, channels: [{ name: x }] }
uplink:
  url: mqtts://127.0.0.1:${port}
  reconnect: { minDelayMs: 100, maxDelayMs: 500 }
${uplink}
log: { level: warn }
`;
}

describe('uplink over TLS with a client certificate and a password', () => {
  let dir: { path: string; remove: () => Promise<void> };
  let tls: TlsFiles;
  let broker: Mosquitto;
  let gateway: Gateway | undefined;

  beforeEach(async () => {
    dir = await makeTempDir();
    tls = makeTlsFiles(dir.path);
    execFileSync('mosquitto_passwd', ['-b', '-c', `${dir.path}/passwd`, 'gw-tls', 'right horse battery']);
    writeFileSync(`${dir.path}/gw-password`, 'right horse battery\n');
    writeFileSync(`${dir.path}/wrong-password`, 'staple\n');
    broker = await Mosquitto.create(dir.path, {
      anonymous: false,
      listener: [`cafile ${tls.ca}`, `certfile ${tls.serverCert}`, `keyfile ${tls.serverKey}`, 'require_certificate true', `password_file ${dir.path}/passwd`],
    });
  });
  afterEach(async () => {
    await gateway?.stop();
    await broker.stop();
    await dir.remove();
  });

  async function run(uplink: string): Promise<Gateway> {
    const registry = builtinRegistry();
    const gw = await Gateway.create(parseConfig(gatewayYaml(dir.path, broker.port, uplink), 'test', registry), registry, { logger: pino({ level: 'silent' }) });
    gateway = gw;
    await gw.start();
    return gw;
  }

  it('delivers records over mqtts:// with CA, client certificate and password file', async () => {
    const received: string[] = [];
    const subscriber = await RecordSubscriber.connect({
      url: `mqtts://127.0.0.1:${broker.port}`,
      clientId: 'fleet-tls',
      persistentSession: false,
      mqtt: { ca: readFileSync(tls.ca), cert: readFileSync(tls.clientCert), key: readFileSync(tls.clientKey), username: 'gw-tls', password: 'right horse battery' },
      onRecords: ({ records }) => received.push(...records.map((r) => r.id)),
    });
    try {
      const gw = await run(`  ca: ${tls.ca}\n  cert: ${tls.clientCert}\n  key: ${tls.clientKey}\n  username: gw-tls\n  passwordFile: ${dir.path}/gw-password`);
      await waitFor(() => received.length >= 100, '100 records over TLS');
      expect(gw.uplink.stats().connected).toBe(true);
    } finally {
      await subscriber.close();
    }
  });

  it('a wrong password keeps it retrying and says why, without crashing', async () => {
    const gw = await run(`  ca: ${tls.ca}\n  cert: ${tls.clientCert}\n  key: ${tls.clientKey}\n  username: gw-tls\n  passwordFile: ${dir.path}/wrong-password`);
    await waitFor(() => gw.uplink.stats().lastError !== null, 'a connection error');
    expect(gw.uplink.stats().lastError).toMatch(/Not authorized|Bad username or password/i);
    expect(gw.uplink.stats().connected).toBe(false);
    expect(gw.health().reasons.find((r) => r.startsWith('uplink:'))).toMatch(/not connected \(.*(authorized|password)/i);
    await waitFor(() => gw.outbox.size > 50, 'records kept in the outbox meanwhile');
  });

  it('a broker certificate from an unknown CA is refused', async () => {
    const gw = await run(`  ca: ${tls.otherCa}\n  cert: ${tls.clientCert}\n  key: ${tls.clientKey}\n  username: gw-tls\n  passwordFile: ${dir.path}/gw-password`);
    await waitFor(() => gw.uplink.stats().lastError !== null, 'a TLS error');
    expect(gw.uplink.stats().lastError).toMatch(/certificate/i);
    expect(gw.uplink.stats().connected).toBe(false);
  });
});
