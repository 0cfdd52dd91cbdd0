import { readFile, rm } from 'node:fs/promises';
import { isAbsolute, join } from 'node:path';
import { readYamlSource } from '../config/yaml-source.js';
import { EdgewiseError } from '../errors.js';
import { MANIFEST, under, type InstallManifest } from './install.js';
import { run, systemctl, systemdRuns, userIds } from './system.js';
import { CONFIG_DIR, CONFIG_FILE, ROLLBACK_UNIT, SERVICE_UNIT } from './unit-file.js';

/**
 * `edgewise uninstall`: stops and disables the service, removes the units, the code and the
 * user. The data directory and /etc/edgewise stay unless `purge`: a reinstall finds the
 * gateway's records and config where they were.
 */

/** Never removed by --purge, whatever a config says its data directory is. */
const SYSTEM_DIRS = new Set(['/', '/bin', '/boot', '/dev', '/etc', '/home', '/lib', '/opt', '/proc', '/root', '/run', '/sbin', '/srv', '/sys', '/tmp', '/usr', '/var', '/var/lib']);

export interface UninstallOptions {
  readonly prefix: string;
  readonly user: string;
  readonly root?: string;
  readonly purge: boolean;
}

/** The data directory: the installed config's (it may have been edited since), else the manifest's. */
async function dataDirOf(root: string | undefined, prefix: string): Promise<string | undefined> {
  try {
    const source = readYamlSource(await readFile(under(root, CONFIG_FILE), 'utf8'));
    const d = (source.root as { gateway?: { dataDir?: unknown } } | undefined)?.gateway?.dataDir;
    if (typeof d === 'string' && isAbsolute(d)) return d;
  } catch {
    // no config, or not readable: the manifest says where it was at install
  }
  try {
    const m = JSON.parse(await readFile(join(under(root, prefix), MANIFEST), 'utf8')) as Partial<InstallManifest>;
    return typeof m.dataDir === 'string' && isAbsolute(m.dataDir) ? m.dataDir : undefined;
  } catch {
    return undefined;
  }
}

export async function uninstall(options: UninstallOptions, progress: (line: string) => void): Promise<void> {
  const { root } = options;
  if (root === undefined && process.geteuid?.() !== 0) {
    throw new EdgewiseError('E_INSTALL_NOT_ROOT', 'uninstall removes a system user, units and /opt files: run it as root (sudo edgewise uninstall), or with --root DIR');
  }
  if (!isAbsolute(options.prefix)) throw new EdgewiseError('E_INSTALL_STEP', `--prefix must be an absolute path, got ${JSON.stringify(options.prefix)}`);
  const dataDir = await dataDirOf(root, options.prefix);

  if (root === undefined && systemdRuns()) {
    systemctl(['disable', '--now', SERVICE_UNIT], progress);
    systemctl(['stop', ROLLBACK_UNIT], progress);
  }
  const unitDir = under(root, '/etc/systemd/system');
  for (const unit of [SERVICE_UNIT, ROLLBACK_UNIT]) await rm(join(unitDir, unit), { force: true });
  progress(`units removed: ${SERVICE_UNIT}, ${ROLLBACK_UNIT}`);
  if (root === undefined && systemdRuns()) {
    systemctl(['daemon-reload'], progress);
    try {
      systemctl(['reset-failed', SERVICE_UNIT, ROLLBACK_UNIT], progress);
    } catch {
      // neither unit is failed, or known any more: nothing to reset
    }
  }

  await rm(under(root, options.prefix), { recursive: true, force: true });
  progress(`code removed: ${options.prefix}`);

  if (root !== undefined) progress(`--root: user ${options.user} left alone`);
  else if (userIds(options.user) !== undefined) {
    run('userdel', [options.user]);
    progress(`system user ${options.user} removed`);
  }

  if (options.purge) {
    await rm(under(root, CONFIG_DIR), { recursive: true, force: true });
    progress(`config removed: ${CONFIG_DIR}`);
    if (dataDir !== undefined && SYSTEM_DIRS.has(dataDir.replace(/\/+$/, '') || '/')) {
      progress(`data directory ${dataDir} is a system directory: not removed`);
    } else if (dataDir !== undefined) {
      await rm(under(root, dataDir), { recursive: true, force: true });
      progress(`data removed: ${dataDir}`);
    } else {
      progress('no data directory found (no config, no install.json): nothing else removed');
    }
  } else {
    progress(`kept: ${CONFIG_DIR}${dataDir === undefined ? '' : ` and ${dataDir}`} (their owner is now a number; --purge removes them)`);
  }
}
