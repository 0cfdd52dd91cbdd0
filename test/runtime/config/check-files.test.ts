import { spawn, execFileSync } from 'node:child_process';
import { chmod, copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../../runtime/config/load.js';
import { builtinRegistry } from '../../../runtime/plugins.js';
import { CLI, assertBuilt, runCli } from '../../support/gateway-process.js';
import { makeTempDir } from '../../support/temp-dir.js';

const EXAMPLE = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'runtime', 'gateway.example.yaml');

/** The CLI run from `cwd` (systemd starts services in /), with bytes of stderr kept as they came. */
function cliIn(cwd: string, args: readonly string[]): Promise<{ code: number | null; stdout: string; stderr: Buffer }> {
  assertBuilt();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    const stderr: Buffer[] = [];
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => stderr.push(d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`edgewise ${args.join(' ')} did not exit`));
    }, 20_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr: Buffer.concat(stderr) });
    });
  });
}

const uplink = 'uplink:\n  url: mqtt://127.0.0.1:1883\n';

describe('--check catches what a start would hit', () => {
  let dir: { path: string; remove: () => Promise<void> };
  beforeAll(async () => {
    dir = await makeTempDir();
  });
  afterAll(async () => {
    await dir.remove();
  });

  it('names a misspelled key with the key it is closest to, besides the missing one', async () => {
    const file = join(dir.path, 'typo.yaml');
    await writeFile(file, `gateway:\n  id: gw-1\n  dataDir: data\n${uplink}devices:\n  - id: d1\n    type: synthetic\n    rateHZ: 10\n    channels: [{ name: x }]\n`);
    const { code, stderr } = await runCli(['gateway', '--config', file, '--check']);
    expect(code).toBe(2);
    expect(stderr).toContain('devices[0].rateHZ: expected a known key, got unknown key "rateHZ"; did you mean "rateHz"? (line 9)');
    expect(stderr).toContain('devices[0].rateHz: expected a number (required), got nothing');
  });

  it('reports every problem of a section and of every file, not the first one', async () => {
    const file = join(dir.path, 'many.yaml');
    await writeFile(
      file,
      `gateway:\n  id: gw-1\n  dataDir: data\nstore:\n  maxSizeBytes: -5\n  sync: sometimes\n  batchMaxRecord: 10\nuplink:\n  url: mqtts://broker:8883\n  ca: tls/ca.pem\n  cert: tls/cert.pem\n  key: tls/key.pem\n`,
    );
    const { code, stderr } = await runCli(['gateway', '--config', file, '--check']);
    expect(code).toBe(2);
    expect(stderr).toContain('6 problems');
    expect(stderr).toContain('store.maxSizeBytes: expected an integer >= 65536, got -5 (line 5)');
    expect(stderr).toContain('store.sync: expected true or false, got string "sometimes" (line 6)');
    expect(stderr).toContain('store.batchMaxRecord: expected a known key, got unknown key "batchMaxRecord"; did you mean "batchMaxRecords"? (line 7)');
    expect(stderr).toContain(`uplink.ca: expected a PEM CA certificate (a readable file), got "${dir.path}/tls/ca.pem" (ENOENT) (line 10)`);
    expect(stderr).toContain('uplink.cert: expected a PEM client certificate (a readable file)');
    expect(stderr).toContain('(ENOENT) (line 12)');
  });

  it('gives model, clip and TUF root files the line of the key that names them', async () => {
    const file = join(dir.path, 'models.yaml');
    await writeFile(
      file,
      `gateway:\n  id: gw-1\n  dataDir: data\n${uplink}devices:\n  - id: cam\n    type: camera\n    input: { file: clips/belt.h264 }\npipelines:\n  - id: c\n    source: cam\n    stages:\n      - type: vision\n        model: { path: models/belt.onnx }\nupdates:\n  metadataUrl: http://127.0.0.1:8080/metadata\n  targetBaseUrl: http://127.0.0.1:8080/targets\n  rootFile: root.json\n`,
    );
    const { code, stderr } = await runCli(['gateway', '--config', file, '--check']);
    expect(code).toBe(2);
    expect(stderr).toContain(`devices[0].input.file: expected an H.264 file (raw Annex B or MP4) (a readable file), got "${dir.path}/clips/belt.h264" (ENOENT) (line 9)`);
    expect(stderr).toContain(`pipelines[0].stages[0].model.path: expected an ONNX model (a readable file), got "${dir.path}/models/belt.onnx" (ENOENT) (line 15)`);
    expect(stderr).toContain(`updates.rootFile: expected the pinned TUF root metadata (a readable file), got "${dir.path}/root.json" (ENOENT) (line 19)`);
  });

  it('refuses a dataDir that is a file, or that lies under a file', async () => {
    await writeFile(join(dir.path, 'a-file'), 'x');
    for (const [dataDir, why] of [
      ['a-file', '(a file, not a directory)'],
      ['a-file/data', `(a path through a file ("${dir.path}/a-file" would hold it))`],
    ] as const) {
      const file = join(dir.path, 'datadir.yaml');
      await writeFile(file, `gateway:\n  id: gw-1\n  dataDir: ${dataDir}\n${uplink}`);
      const { code, stderr, stdout } = await runCli(['gateway', '--config', file, '--check']);
      expect(code).toBe(2);
      expect(stdout).toBe('');
      expect(stderr).toContain(`gateway.dataDir: expected a data directory (a writable directory, or a path the gateway can create), got "${dir.path}/${dataDir}" ${why} (line 3)`);
    }
  });

  it('refuses a dataDir that cannot be written (read-only filesystem as root, no permission otherwise)', async () => {
    const ro = join(dir.path, 'ro');
    await mkdir(ro);
    const root = process.getuid?.() === 0;
    if (root) execFileSync('mount', ['-t', 'tmpfs', '-o', 'ro,size=64k', 'tmpfs', ro]);
    else await chmod(ro, 0o555);
    try {
      const file = join(dir.path, 'ro.yaml');
      await writeFile(file, `gateway:\n  id: gw-1\n  dataDir: ro/data\n${uplink}`);
      const { code, stderr } = await runCli(['gateway', '--config', file, '--check']);
      expect(code).toBe(2);
      expect(stderr).toContain(`got "${ro}/data" (not writable: ${root ? 'EROFS' : 'EACCES'} ("${ro}" would hold it)) (line 3)`);
    } finally {
      if (root) execFileSync('umount', ['-l', ro]);
      else await chmod(ro, 0o755);
    }
  });

  it('never echoes garbage bytes raw: a binary file, invalid UTF-8, terminal escapes', async () => {
    const cases: [string, Buffer, RegExp][] = [
      ['binary', Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0x02, 0x01, 0x01, 0x00, 0x00, 0x1b, 0x5b, 0x32, 0x4a, 0x00]), /line 1, column 8: not a text file \(a NUL byte\)/],
      ['latin1', Buffer.concat([Buffer.from('gateway:\n  id: caf'), Buffer.from([0xe9, 0x1b, 0x5b, 0x32, 0x4a]), Buffer.from('\n')]), /line 2, byte 10 of the line: not UTF-8 text \(byte 0xe9\)/],
      ['escapes', Buffer.from(`gateway:\n  id: gw-1\n  dataDir: data\n${uplink}\u001b]0;pwned\u0007\u001b[2J: 1\nlog: { level: "\u001b[31mred\u009b" }\n`), /unknown section "\\u001b\]0;pwned\\u0007\\u001b\[2J"/],
    ];
    for (const [name, bytes, says] of cases) {
      const file = join(dir.path, `${name}.yaml`);
      await writeFile(file, bytes);
      const { code, stderr } = await cliIn(dir.path, ['gateway', '--config', file, '--check']);
      expect(code).toBe(2);
      const text = stderr.toString('utf8');
      expect(text).toMatch(says);
      // No byte a terminal would act on: C0 controls but newline, DEL, and (as UTF-8) C1 controls.
      expect([...stderr].filter((b) => (b < 0x20 && b !== 0x0a) || b === 0x7f)).toEqual([]);
      expect(text).not.toMatch(/[\u0080-\u009f]/);
    }
  });

  it('resolves relative paths against the config file, not the working directory', async () => {
    const conf = join(dir.path, 'etc');
    await mkdir(conf, { recursive: true });
    await writeFile(join(conf, 'mqtt-password'), 'secret\n');
    const yaml = `gateway:\n  id: gw-1\n  dataDir: ../var/data\nuplink:\n  url: mqtt://127.0.0.1:1883\n  username: gw-1\n  passwordFile: mqtt-password\n`;
    await writeFile(join(conf, 'gateway.yaml'), yaml);
    const { code, stdout, stderr } = await cliIn('/', ['gateway', '--config', join(conf, 'gateway.yaml'), '--check']);
    expect(stderr.toString()).toBe('');
    expect(code).toBe(0);
    expect(stdout).toContain(`data in ${join(dir.path, 'var', 'data')}`);
    const config = parseConfig(yaml, 'gateway.yaml', builtinRegistry(), { baseDir: conf });
    expect(config.gateway.dataDir).toBe(join(dir.path, 'var', 'data'));
    expect(config.uplink.passwordFile).toBe(join(conf, 'mqtt-password'));
  });

  it('the example config passes --check on a fresh machine (a fresh temp dir, run from /)', async () => {
    const fresh = await makeTempDir('edgewise-example-');
    try {
      const file = join(fresh.path, 'gateway.yaml');
      await copyFile(EXAMPLE, file);
      const { code, stdout, stderr } = await cliIn('/', ['gateway', '--config', file, '--check']);
      expect(stderr.toString()).toBe('');
      expect(code).toBe(0);
      expect(stdout).toContain('config ok: gateway press-line-1');
      expect(stdout).toContain(`data in ${fresh.path}/data`);
      // --check writes nothing: the data directory is created by a start, not by a check.
      await expect(readFile(join(fresh.path, 'data'))).rejects.toThrow(/ENOENT/);
    } finally {
      await fresh.remove();
    }
  });
});
