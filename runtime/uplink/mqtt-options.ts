import { readFile } from 'node:fs/promises';
import type { IClientOptions } from 'mqtt';

/** Uplink settings as they appear in the config's `uplink` section. */
export interface UplinkSettings {
  readonly url: string;
  readonly clientId?: string | undefined;
  readonly username?: string | undefined;
  readonly password?: string | undefined;
  readonly passwordFile?: string | undefined;
  readonly ca?: string | undefined;
  readonly cert?: string | undefined;
  readonly key?: string | undefined;
  readonly rejectUnauthorized: boolean;
  readonly keepaliveS: number;
  readonly connectTimeoutMs: number;
  readonly batchMaxRecords: number;
  readonly batchMaxBytes: number;
  readonly maxInFlight: number;
  readonly reconnect: { readonly minDelayMs: number; readonly maxDelayMs: number };
}

/** Files the uplink reads at start: the secrets and certificates, each named for errors. */
export interface UplinkFiles {
  readonly password?: string;
  readonly ca?: Buffer;
  readonly cert?: Buffer;
  readonly key?: Buffer;
}

/** Reads the files the settings point to; a missing or unreadable one names its key. */
export async function readUplinkFiles(settings: UplinkSettings): Promise<{ files: UplinkFiles; problems: string[] }> {
  const problems: string[] = [];
  const files: { -readonly [K in keyof UplinkFiles]: UplinkFiles[K] } = {};
  const read = async (key: 'passwordFile' | 'ca' | 'cert' | 'key'): Promise<Buffer | undefined> => {
    const path = settings[key];
    if (path === undefined) return undefined;
    try {
      return await readFile(path);
    } catch (err) {
      problems.push(`uplink.${key}: expected a readable file, got ${JSON.stringify(path)} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
      return undefined;
    }
  };
  const password = await read('passwordFile');
  if (password !== undefined) files.password = password.toString('utf8').replace(/\r?\n$/, '');
  const ca = await read('ca');
  if (ca !== undefined) files.ca = ca;
  const cert = await read('cert');
  if (cert !== undefined) files.cert = cert;
  const key = await read('key');
  if (key !== undefined) files.key = key;
  // Parse the PEM files now: bad material found at connect time would only show up as an
  // endless reconnect loop, not as a config problem.
  const check = (name: 'ca' | 'cert' | 'key', what: string, parse: () => unknown): void => {
    try {
      parse();
    } catch (err) {
      problems.push(`uplink.${name}: expected ${what}, got ${JSON.stringify(settings[name])} (${(err as Error).message})`);
    }
  };
  const { ca: caPem, cert: certPem, key: keyPem } = files;
  if (caPem === undefined && certPem === undefined && keyPem === undefined) return { files, problems };
  // Node's crypto and TLS modules load only for a config that names TLS files.
  const [{ X509Certificate, createPrivateKey }, { createSecureContext }] = await Promise.all([import('node:crypto'), import('node:tls')]);
  if (caPem !== undefined) check('ca', 'a PEM CA certificate', () => new X509Certificate(caPem));
  if (keyPem !== undefined) check('key', 'a PEM private key', () => createPrivateKey(keyPem));
  if (certPem !== undefined) {
    check('cert', 'a PEM client certificate matching uplink.key', () => {
      new X509Certificate(certPem);
      if (keyPem !== undefined) createSecureContext({ cert: certPem, key: keyPem });
    });
  }
  return { files, problems };
}

const noLog = (): void => undefined;

/** mqtt.js options for one connection attempt: MQTT 3.1.1, clean session, no auto-reconnect. */
export function mqttClientOptions(settings: UplinkSettings, files: UplinkFiles, clientId: string, will: IClientOptions['will']): IClientOptions {
  const options: IClientOptions = {
    clientId,
    protocolVersion: 4,
    // The LevelDB outbox is the source of truth; a clean session keeps no broker-side
    // state that could disagree with it. Reconnects are ours (jittered backoff).
    clean: true,
    reconnectPeriod: 0,
    keepalive: settings.keepaliveS,
    connectTimeout: settings.connectTimeoutMs,
    rejectUnauthorized: settings.rejectUnauthorized,
    will,
    // mqtt-packet's default pre-builds a Buffer for every 16-bit number on the first packet
    // sent (65,536 of them, ~6.5 MB of heap for the life of the process); without it, a
    // 2-byte Buffer per packet id or topic length (memory and uplink benches, README).
    writeCache: false,
  };
  return withLoginAndTls(options, settings, files);
}

/**
 * The login and TLS files of a connection (the fleet uplink's and the Sparkplug edge node's),
 * and mqtt.js's debug logging off unless DEBUG is set.
 */
export function withLoginAndTls(options: IClientOptions, login: { readonly username?: string | undefined; readonly password?: string | undefined }, files: UplinkFiles): IClientOptions {
  // mqtt.js calls its debug logger several times per packet, and each call allocates its
  // arguments even when the logger is off (a tenth of an idle gateway's allocations). With
  // no DEBUG in the environment no debug logger can be on: mqtt.js gets one that does nothing.
  if ((process.env['DEBUG'] ?? '') === '') options.log = noLog;
  if (login.username !== undefined) options.username = login.username;
  const password = files.password ?? login.password;
  if (password !== undefined) options.password = password;
  if (files.ca !== undefined) options.ca = files.ca;
  if (files.cert !== undefined) options.cert = files.cert;
  if (files.key !== undefined) options.key = files.key;
  return options;
}
