import { fstatSync } from 'node:fs';

/**
 * Log lines into the journal at the right priority. journald reads a service's stdout line by
 * line at priority info, unless a line starts with a syslog prefix `<N>` (SyslogLevelPrefix=,
 * on by default), which it strips and uses. So when stdout is the journal, each of pino's JSON
 * lines gets the prefix of its level; `journalctl -p warning` then shows warnings and worse, and
 * `journalctl -o cat` shows the JSON as pino wrote it.
 */

/** pino's numeric level -> syslog priority (trace and debug 7, info 6, warn 4, error 3, fatal 2). */
export function syslogPriority(pinoLevel: number): number {
  if (pinoLevel >= 60) return 2;
  if (pinoLevel >= 50) return 3;
  if (pinoLevel >= 40) return 4;
  if (pinoLevel >= 30) return 6;
  return 7;
}

/** `<N>` for a pino JSON line (it starts with `{"level":NN`), or '' when it does not. */
export function journalPrefix(line: string): string {
  const m = /^\{"level":([0-9]+)/.exec(line);
  return m === null ? '' : `<${syslogPriority(Number(m[1]))}>`;
}

/**
 * Whether file descriptor `fd` is the journal's stream systemd connected: JOURNAL_STREAM is
 * "device:inode" of that stream (systemd.exec(5)); a shell redirect or pipe at the same fd is not.
 */
export function isJournalStream(env: NodeJS.ProcessEnv, fd: number): boolean {
  const want = env.JOURNAL_STREAM;
  if (want === undefined) return false;
  try {
    const st = fstatSync(fd);
    return want === `${st.dev}:${st.ino}`;
  } catch {
    return false;
  }
}

/** A pino destination that writes each line to `out` with its journal prefix. */
export function journalDestination(out: { write(chunk: string): unknown }): { write(line: string): void } {
  return { write: (line: string) => void out.write(journalPrefix(line) + line) };
}
