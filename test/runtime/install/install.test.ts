import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { lstat, mkdir, readFile, readlink, stat, symlink, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CLI, runCli } from '../../support/gateway-process.js';
import { makeTempDir } from '../../support/temp-dir.js';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const EXAMPLE = join(REPO, 'runtime', 'gateway.example.yaml');
const PREFIX = '/opt/edgewise';

/** A small edgewise package of a given version: what install copies (package.json, bin, dist, node_modules). */
async function fakePackage(dir: string, version: string): Promise<string> {
  const pkg = join(dir, `pkg-${version}`);
  await mkdir(join(pkg, 'bin'), { recursive: true });
  await mkdir(join(pkg, 'dist', 'cli'), { recursive: true });
  await mkdir(join(pkg, 'node_modules', 'some-dep'), { recursive: true });
  await writeFile(join(pkg, 'package.json'), JSON.stringify({ name: 'edgewise', version }));
  await writeFile(join(pkg, 'bin', 'edgewise'), `#!/bin/sh\necho edgewise ${version}\n`, { mode: 0o755 });
  await writeFile(join(pkg, 'dist', 'cli', 'main.js'), `// ${version}\n`);
  await writeFile(join(pkg, 'node_modules', 'some-dep', 'index.js'), '');
  // What npm ci leaves that a gateway does not run on: dev packages, .bin, other platforms' onnxruntime.
  await mkdir(join(pkg, 'node_modules', 'vitest'), { recursive: true });
  await mkdir(join(pkg, 'node_modules', '@types', 'node'), { recursive: true });
  await mkdir(join(pkg, 'node_modules', '.bin'), { recursive: true });
  await symlink('../vitest/vitest.mjs', join(pkg, 'node_modules', '.bin', 'vitest'));
  for (const platform of ['linux/x64', 'linux/arm64', 'darwin/arm64', 'win32/x64']) {
    await mkdir(join(pkg, 'node_modules', 'onnxruntime-node', 'bin', 'napi-v6', platform), { recursive: true });
    await writeFile(join(pkg, 'node_modules', 'onnxruntime-node', 'bin', 'napi-v6', platform, 'onnxruntime_binding.node'), platform);
  }
  const lock = { packages: { '': {}, 'node_modules/some-dep': {}, 'node_modules/onnxruntime-node': {}, 'node_modules/vitest': { dev: true }, 'node_modules/@types/node': { dev: true } } };
  await writeFile(join(pkg, 'node_modules', '.package-lock.json'), JSON.stringify(lock));
  return pkg;
}

async function mode(path: string): Promise<string> {
  return ((await stat(path)).mode & 0o7777).toString(8).padStart(4, '0');
}

function runShell(script: string, args: readonly string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolvePromise) => {
    const child = spawn('sh', [script, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('exit', (code) => resolvePromise({ code, stdout, stderr }));
  });
}

describe('edgewise install --root and uninstall', () => {
  let dir: { path: string; remove: () => Promise<void> };
  let root: string;
  let config: string;
  beforeEach(async () => {
    dir = await makeTempDir();
    root = join(dir.path, 'root');
    config = join(dir.path, 'gateway.yaml');
    await writeFile(config, (await readFile(EXAMPLE, 'utf8')).replace(/^( {2}dataDir: )data\b/m, '$1/var/lib/edgewise'));
  });
  afterEach(async () => {
    await dir.remove();
  });

  const at = (p: string): string => join(root, p);

  it('lays out the code, config, data and units with their modes; an upgrade keeps data and config; rollback goes back once; uninstall keeps data unless --purge', async () => {
    const v1 = await fakePackage(dir.path, '0.1.0');
    const first = await runCli(['install', '--config', config, '--root', root, '--from', v1]);
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    expect(first.stdout).toContain('config copied to /etc/edgewise/gateway.yaml');
    expect(first.stdout).toContain('data directory /var/lib/edgewise created');
    expect(first.stdout).toContain('systemctl daemon-reload && systemctl enable edgewise');

    expect(await mode(at('/etc/edgewise'))).toBe('0750');
    expect(await mode(at('/etc/edgewise/gateway.yaml'))).toBe('0640');
    expect(await readFile(at('/etc/edgewise/gateway.yaml'), 'utf8')).toBe(await readFile(config, 'utf8'));
    expect(await mode(at('/var/lib/edgewise'))).toBe('0750');
    expect(await mode(at('/var/lib'))).toBe('0755');
    expect(await mode(at('/etc'))).toBe('0755');
    expect(await readlink(at(`${PREFIX}/current`))).toBe('versions/0.1.0');
    expect(existsSync(at(`${PREFIX}/previous`))).toBe(false);
    for (const part of ['package.json', 'bin/edgewise', 'dist/cli/main.js', 'node_modules/some-dep/index.js']) {
      expect(existsSync(at(`${PREFIX}/versions/0.1.0/${part}`)), part).toBe(true);
    }
    expect(spawnSync(at(`${PREFIX}/current/bin/edgewise`), { encoding: 'utf8' }).stdout).toBe('edgewise 0.1.0\n');
    const modules = at(`${PREFIX}/versions/0.1.0/node_modules`);
    for (const left of ['vitest', '@types/node', '.bin', 'onnxruntime-node/bin/napi-v6/darwin', 'onnxruntime-node/bin/napi-v6/win32']) expect(existsSync(join(modules, left)), left).toBe(false);
    expect(existsSync(join(modules, `onnxruntime-node/bin/napi-v6/linux/${process.arch}/onnxruntime_binding.node`))).toBe(true);
    expect(existsSync(join(modules, `onnxruntime-node/bin/napi-v6/linux/${process.arch === 'x64' ? 'arm64' : 'x64'}`))).toBe(false);
    expect(first.stdout).toContain('node_modules without its 2 dev packages');
    expect(await mode(at(`${PREFIX}/rollback`))).toBe('0755');
    const unit = await readFile(at('/etc/systemd/system/edgewise.service'), 'utf8');
    expect(unit).toContain(`ExecStart=${PREFIX}/current/bin/edgewise gateway --config /etc/edgewise/gateway.yaml`);
    expect(unit).toContain('MemoryMax=512M');
    expect(unit).toContain(`Environment=PATH=${dirname(process.execPath)}:`);
    expect(await readFile(at('/etc/systemd/system/edgewise-rollback.service'), 'utf8')).toContain(`ExecStart=${PREFIX}/rollback ${PREFIX}`);
    expect(JSON.parse(await readFile(at(`${PREFIX}/install.json`), 'utf8'))).toEqual({ version: '0.1.0', user: 'edgewise', dataDir: '/var/lib/edgewise', configFile: '/etc/edgewise/gateway.yaml' });

    // The gateway ran: records in the data directory; the operator tuned the installed config.
    await writeFile(at('/var/lib/edgewise/000005.ldb'), 'records');
    const tuned = (await readFile(at('/etc/edgewise/gateway.yaml'), 'utf8')).replace('memoryMax: 512M', 'memoryMax: 384M');
    await writeFile(at('/etc/edgewise/gateway.yaml'), tuned);

    // Upgrade: another version, with a config of its own that must not replace the operator's.
    const v2 = await fakePackage(dir.path, '0.2.0');
    await writeFile(config, (await readFile(config, 'utf8')).replace('id: press-line-1', 'id: press-line-9'));
    const second = await runCli(['install', '--config', config, '--root', root, '--from', v2]);
    expect(second.stderr).toBe('');
    expect(second.code).toBe(0);
    expect(second.stdout).toContain('/etc/edgewise/gateway.yaml exists: kept as it is');
    expect(second.stdout).toContain('data directory /var/lib/edgewise kept');
    expect(await readFile(at('/etc/edgewise/gateway.yaml'), 'utf8')).toBe(tuned);
    expect(await readFile(at('/var/lib/edgewise/000005.ldb'), 'utf8')).toBe('records');
    expect(await readlink(at(`${PREFIX}/current`))).toBe('versions/0.2.0');
    expect(await readlink(at(`${PREFIX}/previous`))).toBe('versions/0.1.0');
    expect(spawnSync(at(`${PREFIX}/current/bin/edgewise`), { encoding: 'utf8' }).stdout).toBe('edgewise 0.2.0\n');
    // The unit is made from the config that will run: the operator's.
    expect(await readFile(at('/etc/systemd/system/edgewise.service'), 'utf8')).toContain('MemoryMax=384M');

    // The same version again: a reinstall, the pin does not move.
    const again = await runCli(['install', '--config', config, '--root', root, '--from', v2]);
    expect(again.code).toBe(0);
    expect(await readlink(at(`${PREFIX}/current`))).toBe('versions/0.2.0');
    expect(await readlink(at(`${PREFIX}/previous`))).toBe('versions/0.1.0');

    // What edgewise-rollback.service runs: back to 0.1.0, once.
    const rollback = await runShell(at(`${PREFIX}/rollback`), [at(PREFIX)]);
    expect(rollback.stderr).toBe('');
    expect(rollback.code).toBe(0);
    expect(await readlink(at(`${PREFIX}/current`))).toBe('versions/0.1.0');
    expect(existsSync(at(`${PREFIX}/previous`))).toBe(false);
    expect(await readFile(at(`${PREFIX}/rolled-back-from`), 'utf8')).toBe('versions/0.2.0\n');
    expect(spawnSync(at(`${PREFIX}/current/bin/edgewise`), { encoding: 'utf8' }).stdout).toBe('edgewise 0.1.0\n');
    const twice = await runShell(at(`${PREFIX}/rollback`), [at(PREFIX)]);
    expect(twice.code).toBe(1);
    expect(twice.stderr).toMatch(/no previous version/);
    expect(await readlink(at(`${PREFIX}/current`))).toBe('versions/0.1.0');

    // A third version: only current and previous stay on the disk.
    const v3 = await fakePackage(dir.path, '0.3.0');
    const third = await runCli(['install', '--config', config, '--root', root, '--from', v3]);
    expect(third.code).toBe(0);
    expect(await readlink(at(`${PREFIX}/current`))).toBe('versions/0.3.0');
    expect(await readlink(at(`${PREFIX}/previous`))).toBe('versions/0.1.0');
    expect(existsSync(at(`${PREFIX}/versions/0.2.0`))).toBe(false);
    expect(third.stdout).toContain('removed versions 0.2.0');

    const un = await runCli(['uninstall', '--root', root]);
    expect(un.stderr).toBe('');
    expect(un.code).toBe(0);
    expect(existsSync(at(PREFIX))).toBe(false);
    expect(existsSync(at('/etc/systemd/system/edgewise.service'))).toBe(false);
    expect(existsSync(at('/etc/systemd/system/edgewise-rollback.service'))).toBe(false);
    expect(await readFile(at('/var/lib/edgewise/000005.ldb'), 'utf8')).toBe('records');
    expect(await readFile(at('/etc/edgewise/gateway.yaml'), 'utf8')).toBe(tuned);
    expect(un.stdout).toContain('kept: /etc/edgewise and /var/lib/edgewise');

    const purge = await runCli(['uninstall', '--root', root, '--purge']);
    expect(purge.code).toBe(0);
    expect(existsSync(at('/var/lib/edgewise'))).toBe(false);
    expect(existsSync(at('/etc/edgewise'))).toBe(false);
    expect((await lstat(at('/var/lib'))).isDirectory()).toBe(true);
  });

  it('installs the package it runs from by default (the built checkout)', () => {
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', `import { runningPackageDir } from ${JSON.stringify(join(dirname(CLI), '..', 'runtime', 'install', 'install.js'))}; console.log(runningPackageDir());`], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.stdout.trim()).toBe(REPO);
  });

  describe('refuses, writing nothing', () => {
    async function refused(args: readonly string[], message: RegExp): Promise<void> {
      const r = await runCli(args);
      expect(r.code, r.stdout + r.stderr).toBe(2);
      expect(r.stderr).toMatch(message);
      expect(existsSync(root)).toBe(false);
    }

    it('a relative data directory', async () => {
      await writeFile(config, await readFile(EXAMPLE, 'utf8'));
      await refused(['install', '--config', config, '--root', root, '--from', REPO], /gateway\.dataDir is "data"; an installed gateway needs an absolute path/);
    });

    it('a config that fails --check, with its problems at their lines', async () => {
      const text = (await readFile(config, 'utf8')).replace('level: info', 'level: loud');
      await writeFile(config, text);
      const line = text.split('\n').findIndex((l) => l.includes('level: loud')) + 1;
      await refused(['install', '--config', config, '--root', root, '--from', REPO], new RegExp(`log\\.level: .*\\(line ${line}\\)[\\s\\S]*nothing was installed`));
    });

    it('an unknown option', async () => {
      await refused(['install', '--config', config, '--root', root, '--bogus'], /unknown option '--bogus'/);
    });

    it('a package that is not edgewise', async () => {
      const other = join(dir.path, 'other');
      await mkdir(other);
      await writeFile(join(other, 'package.json'), JSON.stringify({ name: 'left-pad', version: '1.0.0' }));
      await refused(['install', '--config', config, '--root', root, '--from', other], /not edgewise's/);
    });

    it('a user who is not root, without --root', async () => {
      // As nobody, but able to read every file (CAP_DAC_READ_SEARCH): a checkout under a 0700 directory
      // (mktemp -d, a CI workspace) must not turn "refuses a non-root user" into "cannot read the CLI".
      const r = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', '--inh-caps=+dac_read_search', '--ambient-caps=+dac_read_search', process.execPath, CLI, 'install', '--config', config], { encoding: 'utf8' });
      expect(r.status, r.stderr).toBe(2);
      expect(r.stderr).toMatch(/run it as root \(sudo edgewise install/);
    });
  });
});
