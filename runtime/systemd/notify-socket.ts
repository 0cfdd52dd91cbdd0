import { spawn, type ChildProcess } from 'node:child_process';

/**
 * sd_notify(3) without native code: the messages systemd reads on $NOTIFY_SOCKET (READY=1,
 * WATCHDOG=1, STATUS=..., STOPPING=1).
 *
 * NOTIFY_SOCKET is an AF_UNIX datagram socket, and Node cannot send unix datagrams (dgram is
 * UDP only; nodejs/node#29339, #61933). A native addon (sd-notify, unix-dgram) needs a compiler
 * and libsystemd headers on the gateway or prebuilt binaries per architecture, which is what
 * an arm64 install must not depend on. So one long-lived helper process holds the socket:
 * `perl` with IO::Socket::UNIX, both in perl-base, which Debian, Ubuntu and Raspberry Pi OS mark
 * Essential (it is on every such system, like /bin/sh). It reads one hex-encoded message per line
 * on stdin and sends each as one datagram; it exits when its stdin closes, so it dies with the
 * gateway, also on kill -9.
 *
 * systemd attributes a datagram by the sender's PID: the helper is a child in the service's
 * cgroup, so the unit says `NotifyAccess=all` (the default `main` would drop its messages).
 * Because the helper lives as long as the gateway, systemd can always resolve its PID; the
 * one-shot `systemd-notify` the fallback uses can exit before systemd reads its message (a race
 * systemd documents), which is why it is only the fallback.
 */
export interface NotifySink {
  /** Sends one message (fields joined by newlines). Never throws; failures go to `onProblem`. */
  send(fields: Readonly<Record<string, string>>): void;
  /** Ends the helper after what was sent is flushed. */
  close(): Promise<void>;
}

export interface NotifySocketOptions {
  /** The socket path from the environment ($NOTIFY_SOCKET; '@' starts an abstract name). */
  readonly socket: string;
  /** Told once per kind of trouble (helper missing, helper died, socket refused). */
  readonly onProblem: (code: string, reason: string) => void;
  /** Programs, for tests: the perl and systemd-notify to run. */
  readonly perl?: string;
  readonly systemdNotify?: string;
}

const HELPER = String.raw`
use strict; use warnings; use Socket; use IO::Socket::UNIX;
# systemd's stop sends SIGTERM to every process of the service: outlive the gateway's STOPPING=1, end at EOF.
$SIG{TERM} = $SIG{INT} = $SIG{HUP} = 'IGNORE';
my $path = $ENV{EDGEWISE_NOTIFY_SOCKET}; $path =~ s/^@/\0/;
my $sock = IO::Socket::UNIX->new(Type => SOCK_DGRAM) or die "socket: $!\n";
my $addr = sockaddr_un($path);
$| = 1;
while (my $line = <STDIN>) {
  chomp $line;
  my $msg = pack('H*', $line);
  defined(send($sock, $msg, 0, $addr)) or print STDERR "send: $!\n";
}
`;

/** One message as sd_notify sends it: KEY=VALUE lines; newlines inside a value become spaces. */
export function encodeNotify(fields: Readonly<Record<string, string>>): string {
  return Object.entries(fields)
    .map(([k, v]) => `${k}=${v.replace(/[\r\n]+/g, ' ')}`)
    .join('\n');
}

class PerlNotifySink implements NotifySink {
  private child: ChildProcess | undefined;
  private fallback = false;
  private readonly told = new Set<string>();

  constructor(private readonly options: NotifySocketOptions) {
    this.start();
  }

  private problem(code: string, reason: string): void {
    if (this.told.has(code)) return;
    this.told.add(code);
    this.options.onProblem(code, reason);
  }

  private start(): void {
    const child = spawn(this.options.perl ?? 'perl', ['-e', HELPER], {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', EDGEWISE_NOTIFY_SOCKET: this.options.socket },
      stdio: ['pipe', 'ignore', 'pipe'],
    });
    this.child = child;
    child.stdin?.on('error', () => undefined); // EPIPE after the helper died: handled by 'exit'
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (text: string) => this.problem('E_SD_NOTIFY_SEND', `sd_notify helper: ${text.trim().slice(0, 200)}`));
    child.on('error', (err: NodeJS.ErrnoException) => {
      this.child = undefined;
      this.fallback = true;
      this.problem('E_SD_NOTIFY_HELPER', `cannot run perl for sd_notify (${err.code ?? err.message}); using systemd-notify per message, which systemd may miss`);
    });
    child.on('exit', (code, signal) => {
      if (this.child !== child) return;
      this.child = undefined;
      this.fallback = true;
      this.problem('E_SD_NOTIFY_HELPER', `the sd_notify helper exited (${signal ?? `code ${String(code)}`}); using systemd-notify per message, which systemd may miss`);
    });
  }

  send(fields: Readonly<Record<string, string>>): void {
    const message = encodeNotify(fields);
    const child = this.child;
    if (child?.stdin?.writable === true && !this.fallback) {
      child.stdin.write(`${Buffer.from(message, 'utf8').toString('hex')}\n`);
      return;
    }
    // systemd-notify takes the assignments as arguments and sends them as one datagram.
    const oneShot = spawn(this.options.systemdNotify ?? 'systemd-notify', Object.entries(fields).map(([k, v]) => `${k}=${v.replace(/[\r\n]+/g, ' ')}`), {
      env: { ...process.env, NOTIFY_SOCKET: this.options.socket },
      stdio: 'ignore',
    });
    oneShot.on('error', (err: NodeJS.ErrnoException) => this.problem('E_SD_NOTIFY_FALLBACK', `cannot run systemd-notify either (${err.code ?? err.message}): systemd is not told READY or WATCHDOG`));
  }

  async close(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (child === undefined || child.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.stdin?.end();
    const timer = setTimeout(() => child.kill('SIGKILL'), 2000);
    await exited;
    clearTimeout(timer);
  }
}

/**
 * The sink for this process: none when systemd did not give it a socket (run by hand, under
 * another supervisor) or gave one we do not speak (vsock addresses).
 */
export function notifySocketFromEnv(env: NodeJS.ProcessEnv, onProblem: NotifySocketOptions['onProblem']): NotifySink | undefined {
  const socket = env.NOTIFY_SOCKET;
  if (socket === undefined || socket === '') return undefined;
  if (!socket.startsWith('/') && !socket.startsWith('@')) {
    onProblem('E_SD_NOTIFY_SOCKET', `NOTIFY_SOCKET=${socket.slice(0, 100)} is neither a path nor an abstract name: not notifying`);
    return undefined;
  }
  return new PerlNotifySink({ socket, onProblem });
}

export { PerlNotifySink };
