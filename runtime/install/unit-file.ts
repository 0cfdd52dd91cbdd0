import type { GatewayConfig } from '../config/load.js';

/**
 * The systemd units of an installed gateway, generated from its config. Every option carries a
 * one-line comment saying why it is there: the unit is what an administrator reads first when
 * a gateway misbehaves.
 */

export const SERVICE_UNIT = 'edgewise.service';
export const ROLLBACK_UNIT = 'edgewise-rollback.service';
/** Where the installed config lives (the unit's ExecStart names it). */
export const CONFIG_DIR = '/etc/edgewise';
export const CONFIG_FILE = `${CONFIG_DIR}/gateway.yaml`;
/** The rollback script, beside the versions (not inside one: it must work when the new version is broken). */
export const ROLLBACK_SCRIPT = 'rollback';

export interface UnitOptions {
  /** Where the versions and the `current` link live, e.g. /opt/edgewise. */
  readonly prefix: string;
  readonly user: string;
  /** The config file ExecStart passes (default /etc/edgewise/gateway.yaml). */
  readonly configFile?: string;
  /** The directory of the node binary the gateway runs on (install passes its own): first on the unit's PATH. */
  readonly nodeDir?: string;
}

/** systemd's own PATH for services, after the node directory. */
const SYSTEM_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** The /dev paths the config's devices open: serial sensors' `path`. Cameras read TCP, UDP, RTSP or files, never a /dev node. */
export function devicePaths(config: GatewayConfig): string[] {
  const paths = new Set<string>();
  for (const d of config.devices) {
    const c = d.config as { path?: unknown };
    if (d.type === 'serial-sensor' && typeof c.path === 'string' && c.path.startsWith('/dev/')) paths.add(c.path);
  }
  return [...paths].sort();
}

export function hasSerialDevices(config: GatewayConfig): boolean {
  return config.devices.some((d) => d.type === 'serial-sensor');
}

/** A path as one word of a unit line: systemd splits on spaces and reads backslashes and quotes. */
function unitPath(path: string): string {
  if (/[\s"'\\%$;]/.test(path)) throw new Error(`path ${JSON.stringify(path)} cannot be written into a systemd unit (spaces, quotes, backslashes, %, $ and ; are refused)`);
  return path;
}

export function serviceUnit(config: GatewayConfig, options: UnitOptions): string {
  const prefix = unitPath(options.prefix);
  const configFile = unitPath(options.configFile ?? CONFIG_FILE);
  const dataDir = unitPath(config.gateway.dataDir);
  const s = config.service;
  const stopSec = Math.ceil(config.gateway.shutdownTimeoutMs / 1000) + 15;
  const devices = devicePaths(config).map(unitPath);
  const lines = [
    '# Written by `edgewise install` from the gateway config; `edgewise install` writes it again',
    '# (edit the config\'s `service:` section, not this file).',
    '[Unit]',
    'Description=edgewise gateway',
    '# The uplink connects at start; network-online makes the first connect likely to succeed (it retries anyway).',
    'After=network-online.target',
    'Wants=network-online.target',
    `# ${s.startLimitBurst} failed starts within ${s.startLimitIntervalSec} s: systemd stops restarting and the unit fails.`,
    `StartLimitIntervalSec=${s.startLimitIntervalSec}`,
    `StartLimitBurst=${s.startLimitBurst}`,
    '# Then the rollback unit switches back to the previous version and starts it.',
    `OnFailure=${ROLLBACK_UNIT}`,
    '',
    '[Service]',
    '# The gateway says READY=1 once its pipelines run, so `systemctl start` waits for a working gateway.',
    'Type=notify',
    '# The notifications come from a helper child process (Node cannot send unix datagrams), not the main PID.',
    'NotifyAccess=all',
    `ExecStart=${prefix}/current/bin/edgewise gateway --config ${configFile}`,
    ...(options.nodeDir === undefined
      ? []
      : ['# bin/edgewise starts `node` from PATH: the Node.js that ran the install, not whichever comes first.', `Environment=PATH=${unitPath(options.nodeDir)}:${SYSTEM_PATH}`]),
    '# An unprivileged system user; it owns only the data directory.',
    `User=${options.user}`,
    `Group=${options.user}`,
    ...(devices.length > 0 ? ['# Serial devices belong to group dialout.', 'SupplementaryGroups=dialout'] : []),
    ...(s.watchdogSec > 0
      ? ['# The gateway pings while its event loop, store and uplink are alive; silence this long means a restart.', `WatchdogSec=${s.watchdogSec}`]
      : ['# service.watchdogSec is 0: no watchdog.']),
    '# Any exit, clean or not, is a restart: a gateway has no reason to be down.',
    'Restart=always',
    'RestartSec=2',
    '# Opening the store and loading the models takes seconds on a Pi; minutes mean it is stuck.',
    'TimeoutStartSec=120',
    `# gateway.shutdownTimeoutMs (${config.gateway.shutdownTimeoutMs} ms) to drain queues into the store, plus a margin.`,
    `TimeoutStopSec=${stopSec}`,
    '# SIGTERM is the gateway\'s orderly stop (drain, commit, close).',
    'KillSignal=SIGTERM',
    '# No setuid binary or file capability can raise its privileges.',
    'NoNewPrivileges=yes',
    '# /usr, /boot, /etc and the rest are read-only for it...',
    'ProtectSystem=strict',
    '# ...except its data directory (LevelDB, models, TUF metadata).',
    `ReadWritePaths=${dataDir}`,
    '# It has no business in /home, /root or /run/user.',
    'ProtectHome=yes',
    '# Its own /tmp, emptied at each start.',
    'PrivateTmp=yes',
    '# Only the standard pseudo devices (null, zero, random...) and the devices below.',
    'DevicePolicy=closed',
    ...devices.flatMap((d) => ['# A serial sensor the config names.', `DeviceAllow=${d} rw`]),
    `# service.memoryMax: past it the kernel kills the gateway and systemd restarts it.`,
    `MemoryMax=${s.memoryMax}`,
    '# /proc/sys, /sys and kernel modules: nothing a gateway reads or changes.',
    'ProtectKernelTunables=yes',
    'ProtectKernelModules=yes',
    'ProtectControlGroups=yes',
    '# No setuid/setgid files can be made.',
    'RestrictSUIDSGID=yes',
    '# No switching of the execution domain.',
    'LockPersonality=yes',
    '# No realtime scheduling that could starve the rest of the box.',
    'RestrictRealtime=yes',
    '# TCP/UDP (MQTT, cameras, health endpoint), unix sockets (sd_notify, journald) and netlink (interface lookups).',
    'RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK',
    '# Not MemoryDenyWriteExecute: V8\'s JIT needs writable and executable memory.',
    '# pino\'s JSON lines go to the journal; levels come from the <N> prefixes the gateway writes there.',
    'StandardOutput=journal',
    'StandardError=journal',
    'SyslogIdentifier=edgewise',
    '',
    '[Install]',
    'WantedBy=multi-user.target',
    '',
  ];
  return lines.join('\n');
}

export function rollbackUnit(options: Pick<UnitOptions, 'prefix'>): string {
  const prefix = unitPath(options.prefix);
  return [
    '# Written by `edgewise install`. Started by edgewise.service\'s OnFailure= when a version keeps failing',
    '# to start (StartLimitBurst within StartLimitIntervalSec): switches `current` back to `previous`',
    '# once, then starts the gateway again. By hand: systemctl start edgewise-rollback.',
    '[Unit]',
    'Description=edgewise gateway: roll back to the previous version',
    '',
    '[Service]',
    'Type=oneshot',
    '# A shell script beside the versions, not the failed version\'s own code. It exits 1 when there is',
    '# nothing to roll back to (no previous version, or it already rolled back once).',
    `ExecStart=${prefix}/${ROLLBACK_SCRIPT} ${prefix}`,
    '# The failed unit would refuse to start until its start counter is reset.',
    `ExecStartPost=/bin/systemctl reset-failed ${SERVICE_UNIT}`,
    '# --no-block: this unit must not wait for the gateway it starts.',
    `ExecStartPost=/bin/systemctl start --no-block ${SERVICE_UNIT}`,
    '',
  ].join('\n');
}

/**
 * The rollback script: `rollback PREFIX` points PREFIX/current at what PREFIX/previous points
 * at and removes PREFIX/previous, so a second failure does not swap back to the broken version
 * (it exits 1 and the gateway stays failed for a person to look at). The version rolled back
 * from is written to PREFIX/rolled-back-from. Each link is replaced atomically (rename).
 */
export function rollbackScript(): string {
  return `#!/bin/sh
# Written by \`edgewise install\`: switch PREFIX/current back to PREFIX/previous (see edgewise-rollback.service).
set -eu
prefix=\${1:?usage: rollback PREFIX}
if [ ! -L "$prefix/previous" ]; then
  echo "edgewise rollback: no previous version in $prefix (nothing to roll back to, or already rolled back once)" >&2
  exit 1
fi
failed=$(readlink "$prefix/current" || true)
target=$(readlink "$prefix/previous")
ln -sfn "$target" "$prefix/current.new"
mv -T "$prefix/current.new" "$prefix/current"
rm -f "$prefix/previous"
echo "$failed" > "$prefix/rolled-back-from"
echo "edgewise rollback: current is now $target (was $failed)"
`;
}
