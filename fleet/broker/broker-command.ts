import { readFile } from 'node:fs/promises';
import { pino } from 'pino';
import { CredentialsFileError, readCredentialsFile, type CredentialsTable } from './credentials-file.js';
import { EmbeddedBroker, type EmbeddedBrokerTls } from './embedded-broker.js';
import { StandaloneAuth, isLoopbackAddress } from './standalone-auth.js';

export interface BrokerCommandOptions {
  readonly port: string;
  readonly host?: string;
  readonly credentials?: string;
  readonly tlsCert?: string;
  readonly tlsKey?: string;
  readonly tlsPort: string;
  readonly logLevel: string;
}

const EXIT_OK = 0;
const EXIT_FAILURE = 1;
const EXIT_USAGE = 2;
const EXIT_FORCED = 130;

function usage(message: string): number {
  process.stderr.write(`edgewise broker: ${message}\n`);
  return EXIT_USAGE;
}

function parsePort(value: string): number | undefined {
  const n = Number(value);
  return /^\d+$/.test(value) && n <= 65_535 ? n : undefined;
}

/** A URL a client on this machine can use: a wildcard bind address is reached on loopback. */
function clientUrl(scheme: string, host: string, port: number): string {
  const h = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
  return `${scheme}://${h}:${port}`;
}

/**
 * `edgewise broker`: the fleet's embedded broker (aedes) alone, for local trials, with a
 * user list or anonymous loopback access, optional TLS, and no ACL. Prints the bound URL(s)
 * on stdout, logs (JSON) on stderr, stops on SIGINT/SIGTERM.
 */
export async function runBrokerCommand(options: BrokerCommandOptions): Promise<number> {
  const port = parsePort(options.port);
  if (port === undefined) return usage(`--port: expected 0..65535, got ${JSON.stringify(options.port)}`);
  const tlsPort = parsePort(options.tlsPort);
  if (tlsPort === undefined) return usage(`--tls-port: expected 0..65535, got ${JSON.stringify(options.tlsPort)}`);
  if ((options.tlsCert === undefined) !== (options.tlsKey === undefined)) return usage('--tls-cert and --tls-key go together');
  if (!['debug', 'info', 'warn', 'error'].includes(options.logLevel)) return usage(`--log-level: expected debug, info, warn or error, got ${JSON.stringify(options.logLevel)}`);

  let credentials: CredentialsTable | undefined;
  if (options.credentials !== undefined) {
    try {
      credentials = await readCredentialsFile(options.credentials);
    } catch (err) {
      if (err instanceof CredentialsFileError) return usage(err.message);
      throw err;
    }
  }
  let tls: EmbeddedBrokerTls | undefined;
  if (options.tlsCert !== undefined && options.tlsKey !== undefined) {
    try {
      tls = { port: tlsPort, cert: await readFile(options.tlsCert), key: await readFile(options.tlsKey) };
    } catch (err) {
      return usage(`cannot read the TLS files: ${(err as Error).message}`);
    }
  }
  // Without users, nobody needs to reach the broker from elsewhere: listen on loopback.
  const host = options.host ?? (credentials === undefined ? '127.0.0.1' : '0.0.0.0');
  const log = pino({ level: options.logLevel, base: { component: 'broker' }, timestamp: pino.stdTimeFunctions.isoTime }, pino.destination({ dest: 2, sync: true }));
  if (credentials === undefined) {
    const where = isLoopbackAddress(host) ? '' : ` (listening on ${host}, but clients from other addresses are refused)`;
    process.stderr.write(`edgewise broker: no --credentials: anonymous access, from loopback addresses only${where}; no ACL\n`);
  } else {
    process.stderr.write(`edgewise broker: ${credentials.users.length} user(s) from ${options.credentials ?? ''}; no ACL (any user may publish and subscribe to any topic)\n`);
  }

  let broker: EmbeddedBroker;
  try {
    broker = await EmbeddedBroker.create({ host, port, auth: new StandaloneAuth({ ...(credentials === undefined ? {} : { credentials }), log }), ...(tls === undefined ? {} : { tls }), log });
  } catch (err) {
    process.stderr.write(`edgewise broker: cannot listen on ${host}:${port}${tls === undefined ? '' : ` and TLS port ${tlsPort}`}: ${(err as Error).message}\n`);
    return EXIT_FAILURE;
  }
  const urls = [clientUrl('mqtt', host, broker.listeningPort), ...(tls === undefined ? [] : [clientUrl('mqtts', host, broker.tlsPort)])];
  process.stdout.write(`${urls.join('\n')}\n`);
  log.info({ event: 'broker.listening', host, port: broker.listeningPort, ...(tls === undefined ? {} : { tlsPort: broker.tlsPort }), anonymous: credentials === undefined }, 'broker listening');

  return new Promise<number>((resolve) => {
    let signals = 0;
    const onSignal = (name: NodeJS.Signals): void => {
      signals += 1;
      if (signals > 1) process.exit(EXIT_FORCED);
      log.info({ event: 'broker.stopping', signal: name }, 'broker stopping');
      broker.close().then(
        () => {
          log.info({ event: 'broker.stopped' }, 'broker stopped');
          resolve(EXIT_OK);
        },
        (err: unknown) => {
          log.error({ event: 'broker.stop_failed', reason: (err as Error).message }, 'broker stop failed');
          resolve(EXIT_FAILURE);
        },
      );
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
}
