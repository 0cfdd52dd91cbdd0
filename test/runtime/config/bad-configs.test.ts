import { execFileSync } from 'node:child_process';
import { symlink, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, runCli } from '../../support/gateway-process.js';
import { makeTempDir } from '../../support/temp-dir.js';

const good = {
  gateway: 'gateway:\n  id: gw-1\n  dataDir: /tmp/edgewise-never-opened\n',
  uplink: 'uplink:\n  url: mqtt://127.0.0.1:1883\n',
  device: 'devices:\n  - id: d1\n    type: synthetic\n    rateHz: 10\n    channels: [{ name: x }]\n',
};

/** Each config is wrong in one way; the message must name the path of what is wrong. */
const cases: { name: string; yaml: string; path: string; says?: RegExp }[] = [
  { name: 'wrong type (string for a number)', yaml: `${good.gateway}${good.uplink}devices:\n  - id: d1\n    type: synthetic\n    rateHz: fast\n    channels: [{ name: x }]\n`, path: 'devices[0].rateHz', says: /expected a number, got string "fast"/ },
  { name: 'unknown top-level section', yaml: `${good.gateway}${good.uplink}plugins: {}\n`, path: 'plugins', says: /unknown section/ },
  { name: 'unknown key in a section', yaml: `${good.gateway}${good.uplink}store:\n  maxSizeByte: 100000000\n`, path: 'store.maxSizeByte', says: /unknown key/ },
  { name: 'unknown key in a device', yaml: `${good.gateway}${good.uplink}devices:\n  - id: d1\n    type: synthetic\n    rateHz: 10\n    channels: [{ name: x, colour: red }]\n`, path: 'devices[0].channels[0].colour', says: /unknown key "colour"/ },
  { name: 'missing required section', yaml: good.gateway, path: 'uplink', says: /required/ },
  { name: 'missing required field', yaml: `gateway:\n  id: gw-1\n${good.uplink}`, path: 'gateway.dataDir', says: /required\), got nothing/ },
  { name: 'bad URL scheme', yaml: `${good.gateway}uplink:\n  url: http://broker:1883\n`, path: 'uplink.url', says: /mqtt:\/\/ or mqtts:\/\// },
  { name: 'URL that does not parse', yaml: `${good.gateway}uplink:\n  url: "not a url"\n`, path: 'uplink.url' },
  { name: 'negative size', yaml: `${good.gateway}${good.uplink}store:\n  maxSizeBytes: -5\n`, path: 'store.maxSizeBytes', says: /got -5/ },
  { name: 'negative rate', yaml: `${good.gateway}${good.uplink}devices:\n  - id: d1\n    type: synthetic\n    rateHz: -1\n    channels: [{ name: x }]\n`, path: 'devices[0].rateHz', says: /> 0/ },
  { name: 'unknown device type', yaml: `${good.gateway}${good.uplink}devices:\n  - id: cam\n    type: camera-9000\n`, path: 'devices[0].type', says: /one of "camera", "modbus", "opcua", "serial-sensor", "synthetic"/ },
  { name: 'bad overflow policy', yaml: `${good.gateway}${good.uplink}${good.device}pipelines:\n  - id: p\n    source: d1\n    queue: { whenFull: explode }\n`, path: 'pipelines[0].queue.whenFull', says: /one of "block", "dropOldest", "sample"/ },
  { name: 'pipeline naming a device that does not exist', yaml: `${good.gateway}${good.uplink}${good.device}pipelines:\n  - id: p\n    source: d2\n`, path: 'pipelines[0].source', says: /"d1"/ },
  { name: 'gateway id with a slash (it is a topic level)', yaml: `gateway:\n  id: plant/gw-1\n  dataDir: /tmp/x\n${good.uplink}`, path: 'gateway.id' },
  { name: 'TLS files with a plain mqtt:// URL', yaml: `${good.gateway}uplink:\n  url: mqtt://broker:1883\n  ca: /etc/ca.pem\n`, path: 'uplink.ca', says: /mqtts/ },
  { name: 'reconnect delays the wrong way round', yaml: `${good.gateway}uplink:\n  url: mqtt://b:1883\n  reconnect: { minDelayMs: 5000, maxDelayMs: 100 }\n`, path: 'uplink.reconnect.maxDelayMs' },
  { name: 'duplicate device ids', yaml: `${good.gateway}${good.uplink}devices:\n  - { id: d1, type: synthetic, rateHz: 1, channels: [{ name: x }] }\n  - { id: d1, type: synthetic, rateHz: 1, channels: [{ name: y }] }\n`, path: 'devices[1].id', says: /devices\[0\] has it/ },
  { name: 'a password without a username', yaml: `${good.gateway}uplink:\n  url: mqtt://b:1883\n  password: secret\n`, path: 'uplink.username', says: /username when a password is given/ },
  { name: 'YAML syntax error', yaml: `${good.gateway}uplink:\n  url: [unclosed\n`, path: 'line ', says: /not valid YAML/ },
  { name: 'empty file', yaml: '', path: '(root)', says: /got nothing/ },
  { name: 'a list instead of a mapping', yaml: '- a\n- b\n', path: '(root)', says: /got a list of 2/ },
];

describe('bad configs', () => {
  let dir: { path: string; remove: () => Promise<void> };
  beforeAll(async () => {
    dir = await makeTempDir();
  });
  afterAll(async () => {
    await dir.remove();
  });

  it('has a table of at least ten kinds of mistakes', () => {
    expect(cases.length).toBeGreaterThanOrEqual(10);
  });

  for (const c of cases) {
    it(`${c.name}: exit code 2, one paragraph naming ${c.path}`, async () => {
      const file = `${dir.path}/${c.name.replace(/\W+/g, '-')}.yaml`;
      await writeFile(file, c.yaml);
      const { code, stderr, stdout } = await runCli(['gateway', '--config', file, '--check']);
      expect(code).toBe(2);
      expect(stdout).toBe('');
      expect(stderr).toContain(c.path);
      if (c.says !== undefined) expect(stderr).toMatch(c.says);
      expect(stderr).not.toMatch(/\n\s+at .+:\d+:\d+/); // no stack trace
    });
  }

  it('reports one problem per section in one run', async () => {
    const file = `${dir.path}/many.yaml`;
    await writeFile(file, `gateway:\n  id: gw-1\n  dataDir: 7\nstore:\n  sync: sometimes\nuplink:\n  url: ftp://x\nlog:\n  level: loud\n`);
    const { code, stderr } = await runCli(['gateway', '--config', file, '--check']);
    expect(code).toBe(2);
    for (const path of ['gateway.dataDir', 'store.sync', 'uplink.url', 'log.level']) expect(stderr).toContain(path);
    expect(stderr).toContain('4 problems');
  });

  it('accepts a good config and says what it found', async () => {
    const file = `${dir.path}/good.yaml`;
    await writeFile(file, `${good.gateway}${good.uplink}${good.device}`);
    const { code, stdout } = await runCli(['gateway', '--config', file, '--check']);
    expect(code).toBe(0);
    expect(stdout).toContain('config ok: gateway gw-1, 1 device(s): d1 (synthetic)');
  });

  it('a CA file that is not a PEM certificate is caught by --check', async () => {
    const file = `${dir.path}/tls.yaml`;
    await writeFile(`${dir.path}/ca.pem`, 'this is not a certificate\n');
    await writeFile(file, `${good.gateway}uplink:\n  url: mqtts://broker:8883\n  ca: ${dir.path}/ca.pem\n`);
    const { code, stderr } = await runCli(['gateway', '--config', file, '--check']);
    expect(code).toBe(2);
    expect(stderr).toContain('uplink.ca: expected a PEM CA certificate');
  });

  it('a health port that is taken is exit code 1 with a message, and the store is closed cleanly', async () => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as { port: number }).port;
    try {
      const file = `${dir.path}/health.yaml`;
      await writeFile(file, `gateway:\n  id: gw-1\n  dataDir: ${dir.path}/data\n${good.uplink}health:\n  listen: 127.0.0.1:${port}\n`);
      const { code, stderr } = await runCli(['gateway', '--config', file]);
      expect(code).toBe(1);
      expect(stderr).toContain(`health.listen 127.0.0.1:${port}: cannot listen (EADDRINUSE)`);
      // The store was closed: a second open works at once.
      const again = await runCli(['gateway', '--config', file]);
      expect(again.stderr).not.toContain('in use by another process');
    } finally {
      server.close();
    }
  });

  it('a missing config file is exit code 2 with the path', async () => {
    const { code, stderr } = await runCli(['gateway', '--config', `${dir.path}/nope.yaml`, '--check']);
    expect(code).toBe(2);
    expect(stderr).toContain('nope.yaml');
    expect(stderr).toContain('ENOENT');
  });

  it('the installed command (bin/edgewise, through a symlink as npm links it) runs the same CLI', async () => {
    const link = `${dir.path}/edgewise`;
    await symlink(BIN, link);
    const out = execFileSync(link, ['gateway', '--help'], { encoding: 'utf8' });
    expect(out).toContain('Usage: edgewise gateway [options]');
  });

  it('bad usage is exit code 2; --help is 0', async () => {
    expect((await runCli(['gateway'])).code).toBe(2);
    expect((await runCli(['no-such-command'])).code).toBe(2);
    expect((await runCli(['gateway', '--help'])).code).toBe(0);
    expect((await runCli(['--help'])).code).toBe(0);
    expect((await runCli(['demo', '--help'])).code).toBe(0);
  });
});
