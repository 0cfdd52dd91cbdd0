import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { EdgewiseError } from '../errors.js';

/** The parts of the machine an install touches outside its files: users and systemd. */

/** systemd is the init system here (what sd_booted() checks), so systemctl can be used. */
export function systemdRuns(): boolean {
  return existsSync('/run/systemd/system');
}

/** Runs a command to completion; throws E_INSTALL_STEP with its stderr when it fails. */
export function run(command: string, args: readonly string[]): string {
  const r = spawnSync(command, args, { encoding: 'utf8' });
  if (r.error !== undefined || r.status !== 0) {
    const why = r.error !== undefined ? r.error.message : (r.stderr.trim() || `exit ${r.status ?? r.signal}`);
    throw new EdgewiseError('E_INSTALL_STEP', `${command} ${args.join(' ')} failed: ${why}`);
  }
  return r.stdout;
}

export interface Ids {
  readonly uid: number;
  readonly gid: number;
}

/** The uid and gid of a user, or undefined when there is no such user. */
export function userIds(user: string): Ids | undefined {
  try {
    const uid = Number(execFileSync('id', ['-u', user], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim());
    const gid = Number(execFileSync('id', ['-g', user], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim());
    return { uid, gid };
  } catch {
    return undefined;
  }
}

/** Creates the system user and its group when missing; adds it to `dialout` when asked. */
export function ensureUser(user: string, dialout: boolean, progress: (line: string) => void): Ids {
  if (userIds(user) === undefined) {
    run('useradd', ['--system', '--user-group', '--no-create-home', '--home-dir', '/nonexistent', '--shell', '/usr/sbin/nologin', user]);
    progress(`created system user ${user} (no home, no login shell)`);
  } else {
    progress(`system user ${user} exists`);
  }
  if (dialout) {
    run('usermod', ['--append', '--groups', 'dialout', user]);
    progress(`${user} is in group dialout (the config has serial devices)`);
  }
  const ids = userIds(user);
  if (ids === undefined) throw new EdgewiseError('E_INSTALL_STEP', `user ${user} was created but id does not know it`);
  return ids;
}

export function systemctl(args: readonly string[], progress: (line: string) => void): void {
  run('systemctl', args);
  progress(`systemctl ${args.join(' ')}`);
}
