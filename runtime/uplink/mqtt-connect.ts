import { createRequire } from 'node:module';
import { connect as netConnect, isIP } from 'node:net';
import type { ConnectionOptions, TLSSocket } from 'node:tls';
import { parse as parseUrl } from 'node:url';
import type { IClientOptions, IStream, MqttClient } from 'mqtt';

// mqtt.js's client class from its own file. Required, not imported: the file is CommonJS with
// `exports.default`, which Node's ESM import and a bundler's (vitest) read differently.
const MqttClientClass = (createRequire(import.meta.url)('mqtt/lib/client') as typeof import('mqtt/lib/client')).default;

type ConnectOptions = Omit<IClientOptions, 'query' | 'auth'> & { auth?: string | null; query?: Record<string, unknown>; path?: string | null };
type TlsModule = typeof import('node:tls');

/**
 * An mqtt.js client for an `mqtt://` or `mqtts://` broker URL, as `mqtt.connect` builds it,
 * without loading the rest of mqtt.js's transport layer. `import 'mqtt'` loads its
 * WebSocket, SOCKS and browser transports (ws, socks, ip-address, and with them Node's
 * https, zlib and dns modules) on the first connect: about 2 MB of an idle gateway's memory
 * for transports a gateway never uses (README, Benchmarks).
 *
 * The options are worked out as mqtt.js 5 does for these two schemes (its
 * `lib/connect/index.js`, `tcp.js` and `tls.js`): the URL's host, port, credentials and
 * `?clientId=`, a client certificate moving `mqtt` to `mqtts`, TLS server name and the
 * authorization check. A SOCKS proxy (mqtt.js reads `MQTTJS_SOCKS_PROXY`) or any other
 * scheme is handed to mqtt.js itself, loaded then.
 */
export async function connectMqtt(brokerUrl: string, options: IClientOptions): Promise<MqttClient> {
  const parsed = parseUrl(brokerUrl, true);
  const protocol = parsed.protocol?.replace(/:$/, '');
  const socksProxy = options.socksProxy ?? process.env['MQTTJS_SOCKS_PROXY'];
  if ((protocol !== 'mqtt' && protocol !== 'mqtts') || socksProxy !== undefined) {
    const mqtt = await import('mqtt');
    return mqtt.connect(brokerUrl, options);
  }
  const opts: ConnectOptions = {
    ...(parsed.port !== null ? { port: Number(parsed.port) } : {}),
    host: parsed.hostname ?? undefined,
    query: parsed.query,
    auth: parsed.auth,
    protocol,
    ...options,
  };
  delete opts.path;
  if (typeof opts.auth === 'string' && opts.auth !== '') {
    const m = /^(.+):(.+)$/.exec(opts.auth);
    if (m !== null) {
      opts.username = m[1] as string;
      opts.password = m[2] as string;
    } else {
      opts.username = opts.auth;
    }
  }
  if (typeof opts.query?.['clientId'] === 'string') opts.clientId = opts.query['clientId'];
  if (opts.cert && opts.key && opts.protocol === 'mqtt') opts.protocol = 'mqtts';
  opts.defaultProtocol = opts.protocol;
  const tls = opts.protocol === 'mqtts' ? await import('node:tls') : undefined;
  const mqttClient = new MqttClientClass((c) => (tls === undefined ? tcpStream(opts) : tlsStream(tls, c, opts)), opts as IClientOptions);
  mqttClient.on('error', () => undefined);
  return mqttClient;
}

/** mqtt.js's `tcp.js` without the SOCKS branch. */
function tcpStream(opts: ConnectOptions): IStream {
  opts.port = opts.port || 1883;
  opts.hostname = opts.hostname || opts.host || 'localhost';
  return netConnect({ port: opts.port, host: opts.hostname });
}

/** mqtt.js's `tls.js` without the SOCKS branch: an unauthorized server is an error unless `rejectUnauthorized` is false. */
function tlsStream(tls: TlsModule, client: MqttClient, opts: ConnectOptions): IStream {
  opts.port = opts.port || 8883;
  opts.host = opts.hostname || opts.host || 'localhost';
  if (isIP(opts.host) === 0 && !opts.servername) opts.servername = opts.host;
  opts.rejectUnauthorized = opts.rejectUnauthorized !== false;
  delete opts.path;
  const connection: TLSSocket = tls.connect(opts as ConnectionOptions);
  const onError = (err: Error): void => {
    if (opts.rejectUnauthorized) client.emit('error', err);
    connection.end();
  };
  connection.on('secureConnect', () => {
    if (opts.rejectUnauthorized && !connection.authorized) connection.emit('error', new Error('TLS not authorized'));
    else connection.removeListener('error', onError);
  });
  connection.on('error', onError);
  return connection;
}
