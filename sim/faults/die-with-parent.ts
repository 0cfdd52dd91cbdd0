import { existsSync } from 'node:fs';

const SETPRIV = '/usr/bin/setpriv';

/**
 * The command line that runs `command` so the kernel signals it when the simulator dies: util-linux's
 * `setpriv --pdeathsig` sets PR_SET_PDEATHSIG and execs the command (same pid, kept across its own
 * exec). A simulator killed with kill -9 (or a test worker killed at its timeout) then leaves no
 * socat or gateway process behind. Where setpriv is missing, the command runs as it is.
 */
export function dieWithParent(command: string, args: readonly string[], signal: 'KILL' | 'TERM' = 'KILL'): [string, string[]] {
  if (process.platform !== 'linux' || !existsSync(SETPRIV)) return [command, [...args]];
  return [SETPRIV, ['--pdeathsig', signal, '--', command, ...args]];
}
