import { writeFile } from 'node:fs/promises';
import mqtt from 'mqtt';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { formatPayload } from '../../cli/records-command.js';
import { EmbeddedBroker } from '../../fleet/broker/embedded-broker.js';
import { encodeBatch, encodeRecord, encodeState } from '../../fleet/protocol/index.js';
import { parseConfig } from '../../runtime/config/load.js';
import { Gateway } from '../../runtime/gateway.js';
import { builtinRegistry } from '../../runtime/plugins.js';
import { CliProcess } from '../support/cli-process.js';
import { testGatewayConfig } from '../support/gateway-config.js';
import { makeTempDir } from '../support/temp-dir.js';

const rec = (id: string, ts: number, data: unknown): Uint8Array => encodeRecord({ id, stream: 'press-1', class: 'telemetry', ts, data });

describe('edgewise records', () => {
  let broker: EmbeddedBroker;
  let proc: CliProcess | undefined;
  beforeEach(async () => {
    broker = await EmbeddedBroker.create({ host: '127.0.0.1', port: 0 });
  });
  afterEach(async () => {
    await proc?.stop('SIGKILL');
    proc = undefined;
    await broker.close();
  });

  it('prints each record of the batches on the gateways\' record topics as one line, says which payloads it cannot decode, and keeps going', async () => {
    proc = CliProcess.start(['records', '--url', broker.url]);
    await proc.line('stderr', (l) => l.includes('subscribed to edgewise/v1/gw/+/records'), 'the subscription');
    const publisher = await mqtt.connectAsync(broker.url, { protocolVersion: 4 });
    await publisher.publishAsync('edgewise/v1/gw/gw-1/records', Buffer.from(encodeBatch('gw-1', 5, [rec('r1', Date.UTC(2025, 0, 2, 3, 4, 5), { x: 1.5 }), rec('r2', 1000, { x: 2 })])), { qos: 1 });
    await publisher.publishAsync('edgewise/v1/gw/gw-2/records', Buffer.from('not cbor at all \xff'), { qos: 1 });
    await publisher.publishAsync('edgewise/v1/gw/gw-1/records', Buffer.from(encodeBatch('gw-1', 6, [rec('r3', 2000, { x: 3 }), new Uint8Array([1, 2, 3])])), { qos: 1 });
    await proc.line('stdout', (l) => l.includes(' r3 '), 'the record after the bad payload');
    await publisher.endAsync();

    expect(proc.stdout[0]).toBe('2025-01-02T03:04:05.000Z gw-1 press-1 telemetry r1 {"x":1.5}');
    expect(proc.stdout[1]).toBe('1970-01-01T00:00:01.000Z gw-1 press-1 telemetry r2 {"x":2}');
    expect(proc.stdout[2]).toMatch(/^! edgewise\/v1\/gw\/gw-2\/records: \d+ bytes not decoded: E_PAYLOAD_/);
    expect(proc.stdout[3]).toBe('1970-01-01T00:00:02.000Z gw-1 press-1 telemetry r3 {"x":3}');
    expect(proc.stdout[4] ?? (await proc.line('stdout', (l) => l.includes('record 1 of a batch'), 'the bad record'))).toMatch(/^! edgewise\/v1\/gw\/gw-1\/records: .*record 1 of a batch from gw-1/);
    expect(await proc.stop('SIGINT')).toEqual({ code: 0, signal: null });
  });

  it('prints JSON lines with --json, from the topics given, for the records a real gateway sends', async () => {
    const dir = await makeTempDir();
    const registry = builtinRegistry();
    const config = parseConfig(testGatewayConfig({ id: 'gw-rec', dataDir: dir.path, url: broker.url, sources: [{ id: 's1', rateHz: 20 }] }), 'test', registry);
    proc = CliProcess.start(['records', '--url', broker.url, '--json', '--topic', 'edgewise/v1/gw/gw-rec/records', '--topic', 'edgewise/v1/gw/gw-rec/state']);
    await proc.line('stderr', (l) => l.includes('subscribed to'), 'the subscription');
    const gw = await Gateway.create(config, registry, { logger: pino({ level: 'silent' }) });
    try {
      await gw.start();
      const line = await proc.line('stdout', (l) => l.includes('"class":"telemetry"'), 'a record from the gateway');
      const record = JSON.parse(line) as { topic: string; gw: string; stream: string; id: string; ts: number; data: unknown };
      expect(record).toMatchObject({ topic: 'edgewise/v1/gw/gw-rec/records', gw: 'gw-rec', stream: 's1' });
      expect(typeof record.id).toBe('string');
      expect(record.ts).toBeGreaterThan(0);
      const state = JSON.parse(await proc.line('stdout', (l) => l.includes('"state":'), 'the online state')) as { state: { state: string } };
      expect(state.state.state).toBe('online');
    } finally {
      await gw.stop();
      await dir.remove();
    }
  });
});

describe('edgewise records against a broker that wants a login', () => {
  let broker: EmbeddedBroker;
  let dir: Awaited<ReturnType<typeof makeTempDir>>;
  let proc: CliProcess | undefined;
  beforeEach(async () => {
    dir = await makeTempDir();
    // Only reader/s3cret may connect.
    broker = await EmbeddedBroker.create({
      host: '127.0.0.1',
      port: 0,
      auth: { hooks: () => ({ authenticate: (_c, user, pass, done) => done(null, user === 'reader' && pass?.toString('utf8') === 's3cret') }) },
    });
  });
  afterEach(async () => {
    await proc?.stop('SIGKILL');
    proc = undefined;
    await broker.close();
    await dir.remove();
  });

  it('logs in with the password from --password-file, so it never shows in ps', async () => {
    await writeFile(`${dir.path}/pw`, 's3cret\n');
    proc = CliProcess.start(['records', '--url', broker.url, '--username', 'reader', '--password-file', `${dir.path}/pw`]);
    await proc.line('stderr', (l) => l.includes('subscribed to'), 'the subscription');
  });

  it('logs in with the password from EDGEWISE_MQTT_PASSWORD', async () => {
    proc = CliProcess.start(['records', '--url', broker.url, '--username', 'reader'], { EDGEWISE_MQTT_PASSWORD: 's3cret' });
    await proc.line('stderr', (l) => l.includes('subscribed to'), 'the subscription');
  });

  it('stops with exit 1 on a wrong password, and with 2 on a password given twice or an unreadable file', async () => {
    await writeFile(`${dir.path}/pw`, 'wrong\n');
    proc = CliProcess.start(['records', '--url', broker.url, '--username', 'reader', '--password-file', `${dir.path}/pw`]);
    await proc.line('stderr', (l) => l.includes('refused the login'), 'the refusal');
    expect((await proc.exited).code).toBe(1);
    proc = CliProcess.start(['records', '--url', broker.url, '--username', 'reader', '--password-file', `${dir.path}/pw`], { EDGEWISE_MQTT_PASSWORD: 'x' });
    await proc.line('stderr', (l) => l.includes('the password is given twice (--password-file and EDGEWISE_MQTT_PASSWORD)'), 'the usage error');
    expect((await proc.exited).code).toBe(2);
    proc = CliProcess.start(['records', '--url', broker.url, '--username', 'reader', '--password-file', `${dir.path}/none`]);
    await proc.line('stderr', (l) => l.includes(`--password-file ${dir.path}/none: ENOENT`), 'the file error');
    expect((await proc.exited).code).toBe(2);
  });
});

describe('records output', () => {
  it('decodes state messages and names the reason for anything else', () => {
    const state = encodeState({ gw: 'gw-1', state: 'offline', ts: 0, clean: false, runtimeVersion: '0.1.0' });
    expect(formatPayload('edgewise/v1/gw/gw-1/state', state, false)).toEqual(['1970-01-01T00:00:00.000Z gw-1 state offline clean=false runtime=0.1.0']);
    expect(formatPayload('edgewise/v1/gw/gw-1/state', new Uint8Array([0x7b]), false)[0]).toMatch(/^! edgewise\/v1\/gw\/gw-1\/state: 1 bytes not decoded: E_PAYLOAD_DECODE state: not UTF-8 JSON/);
    const bad = JSON.parse(formatPayload('other/topic', new Uint8Array([0xa1]), true)[0] ?? '') as { topic: string; bytes: number; undecoded: { code: string } };
    expect(bad).toMatchObject({ topic: 'other/topic', bytes: 1, undecoded: { code: 'E_PAYLOAD_DECODE' } });
  });

  it('shows byte strings as base64 and cuts long data in the one-line form', () => {
    const long = 'y'.repeat(1000);
    const [line] = formatPayload('edgewise/v1/gw/g/records', encodeBatch('g', 1, [rec('a', 0, { b: new Uint8Array([1, 2]), s: long })]), false);
    expect(line).toContain('{"b":{"base64":"AQI=","bytes":2}');
    expect(line).toMatch(/\.\.\. \(\d+ more chars\)$/);
  });
});
