import type { Aedes, AedesOptions, AuthenticateError, Client } from 'aedes';
import type { CredentialsTable } from './credentials-file.js';
import type { BrokerHooks } from './embedded-broker.js';

/** Where the standalone broker's connect/disconnect lines and refusals go (pino fits). */
export interface StandaloneBrokerLog {
  info(fields: Record<string, unknown>, message: string): void;
  warn(fields: Record<string, unknown>, message: string): void;
}

export interface StandaloneAuthOptions {
  /** The users who may log in; without it, anonymous clients from a loopback address only. */
  readonly credentials?: CredentialsTable;
  readonly log?: StandaloneBrokerLog;
}

/** CONNACK return codes of MQTT 3.1.1 (section 3.2.2.3). */
const BAD_USERNAME_OR_PASSWORD = 4;
const NOT_AUTHORIZED = 5;

function refusal(returnCode: number, message: string): AuthenticateError {
  const err = new Error(message) as Error & { returnCode: number; code: string };
  err.returnCode = returnCode;
  err.code = returnCode === NOT_AUTHORIZED ? 'E_MQTT_NOT_LOOPBACK' : 'E_MQTT_BAD_CREDENTIALS';
  return err as unknown as AuthenticateError;
}

function remoteAddress(client: Client): string | undefined {
  return (client as Client & { conn?: { remoteAddress?: string } }).conn?.remoteAddress;
}

/** 127.0.0.0/8 and ::1, also as IPv4-mapped IPv6 addresses. */
export function isLoopbackAddress(address: string | undefined): boolean {
  if (address === undefined) return false;
  const v4 = address.startsWith('::ffff:') ? address.slice(7) : address;
  return address === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(v4);
}

/**
 * Authentication for `edgewise broker`, the embedded broker run alone for local trials: a
 * user list from a credentials file, or anonymous access from loopback addresses only. There
 * is no ACL (every logged-in client may publish and subscribe to anything): the fleet's
 * per-gateway ACL needs the fleet's registry, which a trial broker does not have.
 */
export class StandaloneAuth implements BrokerHooks {
  private readonly users = new WeakMap<Client, string>();

  constructor(private readonly options: StandaloneAuthOptions) {}

  hooks(): Pick<AedesOptions, 'authenticate'> {
    return {
      authenticate: (client, username, password, done) => {
        this.authenticate(client, username, password).then(
          () => done(null, true),
          (err: unknown) => {
            this.options.log?.warn({ component: 'broker', event: 'broker.refused', code: (err as { code?: string }).code, clientId: client.id, username: username ?? null, remote: remoteAddress(client) ?? null }, (err as Error).message);
            done(err as AuthenticateError, false);
          },
        );
      },
    };
  }

  private async authenticate(client: Client, username: string | undefined, password: Buffer | undefined): Promise<void> {
    const credentials = this.options.credentials;
    if (credentials === undefined) {
      const remote = remoteAddress(client);
      if (!isLoopbackAddress(remote)) throw refusal(NOT_AUTHORIZED, `client ${client.id} from ${remote ?? 'an unknown address'}: anonymous access is allowed from loopback only (start the broker with --credentials FILE)`);
      return;
    }
    const ok = username !== undefined && password !== undefined && (await credentials.verify(username, password.toString('utf8')));
    if (!ok) throw refusal(BAD_USERNAME_OR_PASSWORD, `client ${client.id}: ${username === undefined ? 'no username' : `wrong username or password for ${JSON.stringify(username)}`}`);
    this.users.set(client, username);
  }

  /** Logs every connect and disconnect at info. */
  attach(aedes: Aedes): () => void {
    const log = this.options.log;
    const fields = (client: Client): Record<string, unknown> => ({ component: 'broker', clientId: client.id, username: this.users.get(client) ?? null, remote: remoteAddress(client) ?? null });
    const onClient = (client: Client): void => log?.info({ ...fields(client), event: 'broker.client_connected' }, 'client connected');
    const onDisconnect = (client: Client): void => log?.info({ ...fields(client), event: 'broker.client_disconnected' }, 'client disconnected');
    aedes.on('client', onClient);
    aedes.on('clientDisconnect', onDisconnect);
    return () => {
      aedes.off('client', onClient);
      aedes.off('clientDisconnect', onDisconnect);
    };
  }
}
