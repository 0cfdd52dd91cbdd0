import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseCredentials } from '../../../fleet/broker/credentials-file.js';
import { isLoopbackAddress } from '../../../fleet/broker/standalone-auth.js';
import { hashPassword, mosquittoPasswordHash } from '../../../fleet/registry/credentials.js';
import { CliProcess } from '../../support/cli-process.js';
import { makeTempDir } from '../../support/temp-dir.js';
import { makeTlsFiles } from '../../support/tls-files.js';
import { waitFor } from '../../support/wait-for.js';

const isUrl = (scheme: string) => (line: string) => line.startsWith(`${scheme}://`);

async function roundTrip(client: mqtt.MqttClient, topic: string): Promise<string> {
  const got = new Promise<string>((resolve) => client.once('message', (_t, payload) => resolve(payload.toString())));
  await client.subscribeAsync(topic, { qos: 1 });
  await client.publishAsync(topic, 'hello', { qos: 1 });
  return got;
}

/** Why a connect was refused (the CONNACK return code, or a TLS error code); undefined when it was accepted. */
async function refusal(url: string, options: mqtt.IClientOptions): Promise<number | string | undefined> {
  try {
    const c = await mqtt.connectAsync(url, { ...options, reconnectPeriod: 0, connectTimeout: 5000 });
    await c.endAsync();
    return undefined;
  } catch (err) {
    return (err as { code?: number | string }).code ?? (err as Error).message;
  }
}

describe('edgewise broker', () => {
  let dir: { path: string; remove: () => Promise<void> };
  let proc: CliProcess | undefined;
  beforeEach(async () => {
    dir = await makeTempDir();
  });
  afterEach(async () => {
    await proc?.stop('SIGKILL');
    proc = undefined;
    await dir.remove();
  });

  it('runs on a free port, prints its URL, lets anonymous loopback clients in, logs connects and disconnects, and stops on SIGTERM', async () => {
    proc = CliProcess.start(['broker', '--port', '0']);
    const url = await proc.line('stdout', isUrl('mqtt'), 'the bound URL');
    expect(url).toMatch(/^mqtt:\/\/127\.0\.0\.1:[1-9]\d*$/);
    expect(proc.stderr.join('\n')).toContain('anonymous access, from loopback addresses only');

    const client = await mqtt.connectAsync(url, { clientId: 'trial-1', protocolVersion: 4 });
    expect(await roundTrip(client, 'trial/one')).toBe('hello');
    await proc.line('stderr', (l) => l.includes('"event":"broker.client_connected"') && l.includes('"clientId":"trial-1"') && l.includes('"level":30'), 'the connect logged at info');
    await client.endAsync();
    await proc.line('stderr', (l) => l.includes('"event":"broker.client_disconnected"') && l.includes('"clientId":"trial-1"'), 'the disconnect logged');

    expect(await proc.stop('SIGTERM')).toEqual({ code: 0, signal: null });
    expect(proc.stderr.some((l) => l.includes('"event":"broker.stopped"'))).toBe(true);
  });

  it('with --credentials, accepts users with a clear password, a Mosquitto $7$ hash or a fleet scrypt hash, and refuses a wrong password or no login', async () => {
    const file = join(dir.path, 'users');
    await writeFile(file, ['# trial users', 'alice:secret', `gw-1:${await mosquittoPasswordHash('gw-pass')}`, `ops:${await hashPassword('ops-pass')}`, ''].join('\n'));
    proc = CliProcess.start(['broker', '--port', '0', '--host', '127.0.0.1', '--credentials', file]);
    const url = await proc.line('stdout', isUrl('mqtt'), 'the bound URL');
    expect(proc.stderr.join('\n')).toContain('3 user(s)');

    for (const [username, password] of [['alice', 'secret'], ['gw-1', 'gw-pass'], ['ops', 'ops-pass']] as const) {
      const c = await mqtt.connectAsync(url, { username, password, protocolVersion: 4, reconnectPeriod: 0 });
      expect(await roundTrip(c, `t/${username}`)).toBe('hello');
      await c.endAsync();
    }
    expect(await refusal(url, { username: 'alice', password: 'wrong' })).toBe(4);
    expect(await refusal(url, { username: 'mallory', password: 'secret' })).toBe(4);
    expect(await refusal(url, {})).toBe(4);
    await proc.line('stderr', (l) => l.includes('"event":"broker.refused"') && l.includes('mallory'), 'the refusal logged');
    expect(await proc.stop('SIGINT')).toEqual({ code: 0, signal: null });
  });

  it('refuses a bad credentials file with exit 2 and the line that is wrong', async () => {
    const file = join(dir.path, 'users');
    await writeFile(file, 'alice:secret\nbob\n');
    proc = CliProcess.start(['broker', '--port', '0', '--credentials', file]);
    expect((await proc.exited).code).toBe(2);
    expect(proc.stderr.join('\n')).toContain(`${file}:2: expected user:password`);
  });

  it('listens with TLS beside TCP when given --tls-cert and --tls-key', async () => {
    const tls = makeTlsFiles(dir.path);
    proc = CliProcess.start(['broker', '--port', '0', '--tls-cert', tls.serverCert, '--tls-key', tls.serverKey, '--tls-port', '0']);
    const tlsUrl = await proc.line('stdout', isUrl('mqtts'), 'the TLS URL');
    expect(tlsUrl).toMatch(/^mqtts:\/\/127\.0\.0\.1:[1-9]\d*$/);
    const client = await mqtt.connectAsync(tlsUrl, { ca: readFileSync(tls.ca), protocolVersion: 4, reconnectPeriod: 0 });
    expect(await roundTrip(client, 'tls/one')).toBe('hello');
    await client.endAsync();
    // A client that does not trust the CA is refused by the handshake.
    expect(await refusal(tlsUrl, { ca: readFileSync(tls.otherCa) })).toBeDefined();
    expect(await proc.stop()).toEqual({ code: 0, signal: null });
  });

  it('without --credentials, refuses anonymous clients that come from a non-loopback address', async () => {
    const external = Object.values(networkInterfaces())
      .flat()
      .find((a) => a !== undefined && a.family === 'IPv4' && !a.internal)?.address;
    if (external === undefined) return; // no non-loopback interface on this machine: nothing to test
    proc = CliProcess.start(['broker', '--port', '0', '--host', '0.0.0.0']);
    const url = await proc.line('stdout', isUrl('mqtt'), 'the bound URL');
    expect(proc.stderr.join('\n')).toContain('clients from other addresses are refused');
    const port = new URL(url).port;
    expect(await refusal(`mqtt://${external}:${port}`, {})).toBe(5);
    const local = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { reconnectPeriod: 0 });
    await local.endAsync();
    await waitFor(() => proc?.stderr.some((l) => l.includes('anonymous access is allowed from loopback only')), 'the refusal logged');
  });
});

describe('standalone broker credentials', () => {
  it('parses user:password lines and verifies each kind of secret', async () => {
    const table = parseCredentials(`a:pw\n\n# c\nb:${await mosquittoPasswordHash('x')}\n`, 'f');
    expect(table.users).toEqual(['a', 'b']);
    expect(await table.verify('a', 'pw')).toBe(true);
    expect(await table.verify('a', 'pW')).toBe(false);
    expect(await table.verify('b', 'x')).toBe(true);
    expect(await table.verify('b', 'y')).toBe(false);
    expect(await table.verify('nobody', 'pw')).toBe(false);
    expect(() => parseCredentials('a:$6$abc$def\n', 'f')).toThrow(/f:1: unsupported password hash/);
    expect(() => parseCredentials('a:x\na:y\n', 'f')).toThrow(/listed twice/);
    expect(() => parseCredentials('# nothing\n', 'f')).toThrow(/no users/);
  });

  it('knows loopback addresses', () => {
    for (const a of ['127.0.0.1', '127.1.2.3', '::1', '::ffff:127.0.0.1']) expect(isLoopbackAddress(a)).toBe(true);
    for (const a of ['10.0.0.1', '::ffff:10.0.0.1', '0.0.0.0', '', undefined]) expect(isLoopbackAddress(a)).toBe(false);
  });
});
