import { spawnSync } from 'node:child_process';
import { readFile, symlink, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseConfig, type GatewayConfig } from '../../../runtime/config/load.js';
import { ConfigError } from '../../../runtime/errors.js';
import { rollbackUnit, serviceUnit } from '../../../runtime/install/unit-file.js';
import { builtinRegistry } from '../../../runtime/plugins.js';
import { makeTempDir } from '../../support/temp-dir.js';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const EXAMPLE = join(REPO, 'runtime', 'gateway.example.yaml');

async function exampleText(): Promise<string> {
  const text = await readFile(EXAMPLE, 'utf8');
  const replaced = text.replace(/^( {2}dataDir: )data\b/m, '$1/var/lib/edgewise');
  expect(replaced).not.toBe(text);
  return replaced;
}

function parse(text: string): GatewayConfig {
  return parseConfig(text, 'gateway.yaml', builtinRegistry(), { baseDir: dirname(EXAMPLE) });
}

const SERIAL_DEVICES = `
devices:
  - id: bearing-1
    type: serial-sensor
    path: /dev/ttyACM0
  - id: bearing-2
    type: serial-sensor
    path: /dev/serial/by-id/usb-edgewise-mcu-if00
`;

/** Lines of systemd-analyze's stderr that say a key or a value was not understood (they exit 0). */
function complaints(stderr: string): string[] {
  return stderr.split('\n').filter((l) => /unknown|invalid|ignoring|failed|not found|error/i.test(l));
}

describe('the systemd unit generated from a gateway config', () => {
  let dir: { path: string; remove: () => Promise<void> };
  beforeEach(async () => {
    dir = await makeTempDir();
    // ExecStart must name a file that exists: PREFIX/current is this checkout (bin/edgewise).
    await symlink(REPO, join(dir.path, 'current'));
  });
  afterEach(async () => {
    await dir.remove();
  });

  async function verify(config: GatewayConfig): Promise<{ unit: string; code: number | null; stderr: string }> {
    const unit = serviceUnit(config, { prefix: dir.path, user: 'edgewise', nodeDir: dirname(process.execPath) });
    await writeFile(join(dir.path, 'edgewise.service'), unit);
    await writeFile(join(dir.path, 'edgewise-rollback.service'), rollbackUnit({ prefix: dir.path }));
    await writeFile(join(dir.path, 'rollback'), '#!/bin/sh\n', { mode: 0o755 });
    const r = spawnSync('systemd-analyze', ['verify', './edgewise.service', './edgewise-rollback.service'], { cwd: dir.path, encoding: 'utf8' });
    return { unit, code: r.status, stderr: r.stderr };
  }

  it('passes systemd-analyze verify for the example config, without a warning', async () => {
    const { unit, code, stderr } = await verify(parse(await exampleText()));
    expect(complaints(stderr), stderr).toEqual([]);
    expect(code, stderr).toBe(0);
    expect(unit).toContain(`ExecStart=${dir.path}/current/bin/edgewise gateway --config /etc/edgewise/gateway.yaml`);
    expect(unit.split('\n')).toContain(`Environment=PATH=${dirname(process.execPath)}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`);
  });

  it('carries the hardening, the notify type and the watchdog from the config, and no MemoryDenyWriteExecute', async () => {
    const { unit } = await verify(parse(await exampleText()));
    for (const line of [
      'Type=notify',
      'NotifyAccess=all',
      'WatchdogSec=60',
      'Restart=always',
      'RestartSec=2',
      'KillSignal=SIGTERM',
      'TimeoutStopSec=25',
      'User=edgewise',
      'Group=edgewise',
      'NoNewPrivileges=yes',
      'ProtectSystem=strict',
      'ReadWritePaths=/var/lib/edgewise',
      'ProtectHome=yes',
      'PrivateTmp=yes',
      'DevicePolicy=closed',
      'MemoryMax=512M',
      'ProtectKernelTunables=yes',
      'ProtectKernelModules=yes',
      'ProtectControlGroups=yes',
      'RestrictSUIDSGID=yes',
      'LockPersonality=yes',
      'RestrictRealtime=yes',
      'RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK',
      'StandardOutput=journal',
      'SyslogIdentifier=edgewise',
      'StartLimitBurst=5',
      'StartLimitIntervalSec=600',
      'OnFailure=edgewise-rollback.service',
      'After=network-online.target',
      'Wants=network-online.target',
    ]) {
      expect(unit.split('\n'), line).toContain(line);
    }
    expect(unit).not.toMatch(/^MemoryDenyWriteExecute/m);
    expect(unit).not.toMatch(/^DeviceAllow=/m);
    // Every option has a comment saying why (the line before it, or the one before that for a group).
    const lines = unit.split('\n');
    lines.forEach((l, i) => {
      if (/^[A-Z]\w+=/.test(l)) expect(lines.slice(Math.max(0, i - 4), i).some((c) => c.startsWith('#')) || /^(Description|RestartSec|Group|StandardError|StartLimitBurst|Wants|WantedBy|ExecStart)=/.test(l), l).toBe(true);
    });
  });

  it('allows the serial devices the config names, and their group, and still verifies', async () => {
    const text = (await exampleText()).replace(/^devices:\n/m, `${SERIAL_DEVICES.trimStart()}`);
    const config = parse(text);
    const { unit, code, stderr } = await verify(config);
    expect(unit.split('\n')).toContain('DeviceAllow=/dev/ttyACM0 rw');
    expect(unit.split('\n')).toContain('DeviceAllow=/dev/serial/by-id/usb-edgewise-mcu-if00 rw');
    expect(unit.split('\n')).toContain('SupplementaryGroups=dialout');
    expect(complaints(stderr), stderr).toEqual([]);
    expect(code, stderr).toBe(0);
  });

  it('takes MemoryMax, the watchdog and the start limit from the service section', async () => {
    const text = (await exampleText()).replace(/^service:[\s\S]*$/m, 'service:\n  memoryMax: 268435456\n  watchdogSec: 0\n  startLimitBurst: 3\n  startLimitIntervalSec: 120\n');
    const { unit, code, stderr } = await verify(parse(text));
    expect(unit.split('\n')).toContain('MemoryMax=268435456');
    expect(unit).not.toMatch(/^WatchdogSec=/m);
    expect(unit.split('\n')).toContain('StartLimitBurst=3');
    expect(unit.split('\n')).toContain('StartLimitIntervalSec=120');
    expect(complaints(stderr), stderr).toEqual([]);
    expect(code).toBe(0);
  });

  it('refuses a service section it cannot write into a unit, at the line of the key', async () => {
    const text = (await exampleText()).replace(/^ {2}memoryMax: 512M/m, '  memoryMax: lots');
    let err: unknown;
    try {
      parse(text);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const problems = (err as ConfigError).problems.join('\n');
    const line = text.split('\n').findIndex((l) => l.includes('memoryMax: lots')) + 1;
    expect(problems).toMatch(/service\.memoryMax/);
    expect(problems).toContain(`(line ${line})`);
    expect(() => parse(text.replace(/^ {2}memoryMax: lots/m, '  memoryMax: 256M\n  restartSec: 2'))).toThrow(/service\.restartSec/);
  });
});
