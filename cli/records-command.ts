import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import mqtt from 'mqtt';
import { ProtocolError, decodeBatch, decodeHealth, decodeState, fleetFilters, parseGatewayTopic, type WireRecord } from '../fleet/protocol/index.js';
import { jsonText as json } from '../runtime/cli/json-text.js';

export interface RecordsCommandOptions {
  readonly url: string;
  readonly topic: string[];
  readonly username?: string;
  readonly password?: string;
  readonly passwordFile?: string;
  readonly json: boolean;
}

const EXIT_OK = 0;
const EXIT_FAILURE = 1;
const EXIT_USAGE = 2;
/** In the one-line form, a record's data is cut after this many characters (`--json` prints it whole). */
const MAX_TEXT_DATA_CHARS = 400;

function iso(ms: number): string {
  const d = new Date(ms);
  return Number.isNaN(d.getTime()) ? String(ms) : d.toISOString();
}

function cut(text: string): string {
  return text.length <= MAX_TEXT_DATA_CHARS ? text : `${text.slice(0, MAX_TEXT_DATA_CHARS)}... (${text.length - MAX_TEXT_DATA_CHARS} more chars)`;
}

/** Formats what arrived on one topic as output lines: one per record, or one saying why the payload was not decoded. */
export function formatPayload(topic: string, payload: Uint8Array, asJson: boolean): string[] {
  const undecoded = (code: string, reason: string): string =>
    asJson ? json({ topic, bytes: payload.byteLength, undecoded: { code, reason } }) : `! ${topic}: ${payload.byteLength} bytes not decoded: ${code} ${reason}`;
  let kind: string | undefined;
  try {
    kind = parseGatewayTopic(topic).kind;
  } catch {
    kind = undefined; // a topic of someone else's: try it as a records batch
  }
  try {
    if (kind === 'state') {
      const s = decodeState(payload);
      return [asJson ? json({ topic, gw: s.gw, state: s }) : `${iso(s.ts)} ${s.gw} state ${s.state} clean=${String(s.clean)} runtime=${s.runtimeVersion}`];
    }
    if (kind === 'health') {
      const h = decodeHealth(payload);
      return [asJson ? json({ topic, gw: h.gw, health: { ts: h.ts, status: h.status, reasons: h.reasons } }) : `${iso(h.ts)} ${h.gw} health ${h.status}${h.reasons.length === 0 ? '' : `: ${h.reasons.join('; ')}`}`];
    }
    const batch = decodeBatch(payload);
    const lines = batch.records.map((r: WireRecord) =>
      asJson ? json({ topic, gw: batch.gatewayId, id: r.id, stream: r.stream, class: r.class, ts: r.ts, data: r.data }) : `${iso(r.ts)} ${batch.gatewayId} ${r.stream} ${r.class} ${r.id} ${cut(json(r.data))}`,
    );
    for (const bad of batch.rejected) lines.push(undecoded(bad.code, `${bad.reason} (record ${bad.index} of a batch from ${batch.gatewayId}; the others are printed)`));
    return lines;
  } catch (err) {
    if (err instanceof ProtocolError) return [undecoded(err.code, err.message)];
    return [undecoded('E_PAYLOAD_INVALID', (err as Error).message)];
  }
}

/** Environment variable with the MQTT password: unlike `--password`, not shown by `ps` to other users. */
export const PASSWORD_ENV = 'EDGEWISE_MQTT_PASSWORD';

/**
 * The password from `--password-file` (its first line), else EDGEWISE_MQTT_PASSWORD, else
 * `--password`; more than one of them is a usage error, so none silently wins.
 */
async function passwordOf(options: RecordsCommandOptions): Promise<string | undefined> {
  const env = process.env[PASSWORD_ENV];
  const given = [options.passwordFile === undefined ? null : '--password-file', env === undefined || env === '' ? null : PASSWORD_ENV, options.password === undefined ? null : '--password'].filter((x) => x !== null);
  if (given.length > 1) throw new Error(`the password is given twice (${given.join(' and ')}): give one`);
  if (options.passwordFile !== undefined) {
    let text: string;
    try {
      text = await readFile(options.passwordFile, 'utf8');
    } catch (err) {
      throw new Error(`--password-file ${options.passwordFile}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    const line = text.split(/\r?\n/)[0] ?? '';
    if (line === '') throw new Error(`--password-file ${options.passwordFile}: the first line is empty`);
    return line;
  }
  return env === undefined || env === '' ? options.password : env;
}

/**
 * `edgewise records`: subscribes to a broker and prints the gateways' records decoded, one
 * line each (or JSON lines). A payload it cannot decode is one line saying so; it goes on.
 * Status (connected, subscribed, lost) goes to stderr; records to stdout.
 */
export async function runRecordsCommand(options: RecordsCommandOptions): Promise<number> {
  const topics = options.topic.length > 0 ? options.topic : [fleetFilters.records];
  let password: string | undefined;
  try {
    password = await passwordOf(options);
  } catch (err) {
    process.stderr.write(`edgewise records: ${(err as Error).message}\n`);
    return EXIT_USAGE;
  }
  if (password !== undefined && options.username === undefined) {
    process.stderr.write('edgewise records: a password needs --username\n');
    return EXIT_USAGE;
  }
  const redacted = options.url.replace(/\/\/[^@/]*@/, '//');
  let client: mqtt.MqttClient;
  try {
    client = mqtt.connect(options.url, {
      protocolVersion: 4,
      clientId: `edgewise-records-${randomBytes(4).toString('hex')}`,
      clean: true,
      reconnectPeriod: 1000,
      connectTimeout: 10_000,
      ...(options.username === undefined ? {} : { username: options.username }),
      ...(password === undefined ? {} : { password }),
    });
  } catch (err) {
    process.stderr.write(`edgewise records: ${redacted}: ${(err as Error).message}\n`);
    return EXIT_USAGE;
  }
  const out = (line: string): void => {
    process.stdout.write(`${line}\n`);
  };
  client.on('message', (topic, payload) => {
    for (const line of formatPayload(topic, new Uint8Array(payload.buffer, payload.byteOffset, payload.byteLength), options.json)) out(line);
  });

  return new Promise<number>((resolve) => {
    let everConnected = false;
    const finish = (code: number): void => {
      client.end(true, {}, () => resolve(code));
    };
    client.on('connect', () => {
      everConnected = true;
      process.stderr.write(`edgewise records: connected to ${redacted}\n`);
      client.subscribe(topics, { qos: 1 }, (err, granted) => {
        if (err) {
          process.stderr.write(`edgewise records: subscribe failed: ${err.message}\n`);
          finish(EXIT_FAILURE);
          return;
        }
        const refused = (granted ?? []).filter((g) => g.qos === 128).map((g) => g.topic);
        if (refused.length > 0) process.stderr.write(`edgewise records: the broker refused ${refused.join(', ')}\n`);
        process.stderr.write(`edgewise records: subscribed to ${topics.filter((t) => !refused.includes(t)).join(', ')}\n`);
      });
    });
    client.on('error', (err) => {
      // A refused login will not get better by retrying: say why and stop.
      const code = (err as Error & { code?: number }).code;
      if (code === 4 || code === 5) {
        process.stderr.write(`edgewise records: ${redacted} refused the login: ${err.message}\n`);
        finish(EXIT_FAILURE);
        return;
      }
      process.stderr.write(`edgewise records: ${err.message}${everConnected ? '' : ' (retrying)'}\n`);
    });
    client.on('offline', () => {
      if (everConnected) process.stderr.write(`edgewise records: connection to ${redacted} lost, reconnecting\n`);
    });
    const onSignal = (): void => finish(EXIT_OK);
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
  });
}
