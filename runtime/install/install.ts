import { chmod, chown, copyFile, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig, type GatewayConfig } from '../config/load.js';
import { readYamlSource } from '../config/yaml-source.js';
import { EdgewiseError } from '../errors.js';
import { builtinRegistry } from '../plugins.js';
import { ensureUser, systemctl, systemdRuns, type Ids } from './system.js';
import { CONFIG_DIR, CONFIG_FILE, ROLLBACK_SCRIPT, ROLLBACK_UNIT, SERVICE_UNIT, hasSerialDevices, rollbackScript, rollbackUnit, serviceUnit } from './unit-file.js';
import { installVersion, readSourcePackage } from './versions.js';

/**
 * `edgewise install`: the system user, /etc/edgewise, the data directory, a versioned copy of
 * this edgewise under the prefix, and the systemd units. Idempotent: over an existing install it
 * keeps the data and the operator's config, and makes the installed version `current` and the
 * one before `previous`. Everything is checked before anything is written.
 */

export interface InstallOptions {
  readonly config: string;
  readonly prefix: string;
  readonly user: string;
  /** Install under this directory (like DESTDIR): every path is prefixed, no user is created, systemd is left alone. */
  readonly root?: string;
  /** The edgewise package to install (default: the one running). */
  readonly from?: string;
}

/** What an install leaves for `uninstall` to find (PREFIX/install.json). */
export interface InstallManifest {
  readonly version: string;
  readonly user: string;
  readonly dataDir: string;
  readonly configFile: string;
}

export const MANIFEST = 'install.json';

/** The package this code runs from: dist/runtime/install/ is three levels under it. */
export function runningPackageDir(): string {
  return resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
}

/** A system path as it is written under --root. */
export function under(root: string | undefined, path: string): string {
  return root === undefined ? path : join(root, path);
}

/** The config's gateway.dataDir as written (loadConfig resolves it against the config's directory). */
async function rawDataDir(configPath: string): Promise<unknown> {
  const source = readYamlSource(await readFile(configPath, 'utf8'));
  const root = source.root as { gateway?: { dataDir?: unknown } } | undefined;
  return root?.gateway?.dataDir;
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

/** The config, checked as `gateway --check` does, with a data directory an install can use. */
async function checkedConfig(path: string): Promise<GatewayConfig> {
  const config = await loadConfig(path, builtinRegistry());
  const dataDir = await rawDataDir(path);
  if (typeof dataDir !== 'string' || !isAbsolute(dataDir)) {
    throw new EdgewiseError(
      'E_INSTALL_DATADIR',
      `${path}: gateway.dataDir is ${JSON.stringify(dataDir)}; an installed gateway needs an absolute path (the config moves to ${CONFIG_FILE}, and a relative path would follow it): use e.g. /var/lib/edgewise`,
    );
  }
  return config;
}

/** Makes `dir` 0750; parents that are missing are made 0755 (a missing /var/lib must stay traversable). */
async function mkdirUnder(dir: string): Promise<void> {
  await mkdir(dirname(dir), { recursive: true, mode: 0o755 });
  await mkdir(dir, { recursive: true, mode: 0o750 });
}

export async function install(options: InstallOptions, progress: (line: string) => void): Promise<InstallManifest> {
  const { root } = options;
  if (root === undefined && process.geteuid?.() !== 0) {
    throw new EdgewiseError('E_INSTALL_NOT_ROOT', 'install creates a system user and writes /etc and the prefix: run it as root (sudo edgewise install ...), or with --root DIR to write the files under DIR');
  }
  if (!isAbsolute(options.prefix)) throw new EdgewiseError('E_INSTALL_STEP', `--prefix must be an absolute path, got ${JSON.stringify(options.prefix)}`);
  if (!/^[a-z_][a-z0-9_-]{0,31}$/.test(options.user)) throw new EdgewiseError('E_INSTALL_STEP', `--user ${JSON.stringify(options.user)} is not a valid system user name (lower case letters, digits, _ and -)`);

  // 1. Everything that can be refused, before anything is written.
  const given = await checkedConfig(options.config);
  progress(`config ${options.config} checked: gateway ${given.gateway.id}, data in ${given.gateway.dataDir}`);
  const installedConfig = under(root, CONFIG_FILE);
  const keepConfig = await exists(installedConfig);
  // The unit is made from the config that will run: the operator's when one is there.
  const config = keepConfig ? await checkedConfig(installedConfig) : given;
  const source = await readSourcePackage(options.from ?? runningPackageDir());
  const nodeDir = dirname(process.execPath);
  if (/^\/(home|root|run\/user)(\/|$)/.test(nodeDir)) {
    throw new EdgewiseError(
      'E_INSTALL_STEP',
      `this Node.js is in a home directory (${process.execPath}), which the service cannot read (ProtectHome=yes) and its user may not: install Node.js for the whole system (Debian/Ubuntu/NodeSource packages, or /usr/local) and run the install with it`,
    );
  }
  const service = serviceUnit(config, { prefix: options.prefix, user: options.user, nodeDir });
  const rollback = rollbackUnit({ prefix: options.prefix });

  // 2. The user (a real install only).
  let ids: Ids | undefined;
  if (root === undefined) ids = ensureUser(options.user, hasSerialDevices(config), progress);
  else progress(`--root: user ${options.user} not created, files not chowned (create it when the tree is unpacked)`);
  const own = async (path: string, uid: number | 'root'): Promise<void> => {
    if (ids !== undefined) await chown(path, uid === 'root' ? 0 : uid, ids.gid);
  };

  // 3. /etc/edgewise: root:<user> 0750; the config 0640 (it may hold the MQTT password).
  const configDir = under(root, CONFIG_DIR);
  await mkdirUnder(configDir);
  await chmod(configDir, 0o750);
  await own(configDir, 'root');
  if (keepConfig && resolve(options.config) === resolve(installedConfig)) {
    progress(`config is the installed ${CONFIG_FILE}`);
  } else if (keepConfig) {
    progress(`${CONFIG_FILE} exists: kept as it is (not overwritten with ${options.config}; compare them by hand)`);
  } else {
    await copyFile(options.config, installedConfig);
    progress(`config copied to ${CONFIG_FILE}`);
  }
  await chmod(installedConfig, 0o640);
  await own(installedConfig, 'root');

  // 4. The data directory: <user> 0750, kept as it is if it exists.
  const dataDir = under(root, config.gateway.dataDir);
  const hadData = await exists(dataDir);
  await mkdirUnder(dataDir);
  await chmod(dataDir, 0o750);
  if (ids !== undefined) await own(dataDir, ids.uid);
  progress(`data directory ${config.gateway.dataDir} ${hadData ? 'kept' : 'created'} (owner ${options.user}, mode 0750)`);

  // 5. The code, versioned, and the rollback script beside the versions.
  const prefix = under(root, options.prefix);
  await installVersion(source, prefix, progress);
  await writeFile(join(prefix, ROLLBACK_SCRIPT), rollbackScript(), { mode: 0o755 });
  await chmod(join(prefix, ROLLBACK_SCRIPT), 0o755);
  const manifest: InstallManifest = { version: source.version, user: options.user, dataDir: config.gateway.dataDir, configFile: CONFIG_FILE };
  await writeFile(join(prefix, MANIFEST), `${JSON.stringify(manifest, null, 2)}\n`, { mode: 0o644 });

  // 6. The units.
  const unitDir = under(root, '/etc/systemd/system');
  await mkdir(unitDir, { recursive: true, mode: 0o755 });
  await writeFile(join(unitDir, SERVICE_UNIT), service, { mode: 0o644 });
  await writeFile(join(unitDir, ROLLBACK_UNIT), rollback, { mode: 0o644 });
  progress(`units written: /etc/systemd/system/${SERVICE_UNIT}, /etc/systemd/system/${ROLLBACK_UNIT}`);

  // 7. systemd, when it runs this machine.
  if (root === undefined && systemdRuns()) {
    systemctl(['daemon-reload'], progress);
    systemctl(['enable', SERVICE_UNIT], progress);
    // restart, not start: over an existing install the running gateway must switch to the new version.
    systemctl(['restart', SERVICE_UNIT], progress);
    progress(`edgewise ${source.version} runs: systemctl status edgewise; journalctl -u edgewise -o cat`);
  } else {
    progress(`${root === undefined ? 'systemd is not running here' : '--root'}: start it with: systemctl daemon-reload && systemctl enable edgewise && systemctl restart edgewise`);
  }
  return manifest;
}
