import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';

export type ConnectOutcome = { readonly ok: true; readonly client: MqttClient } | { readonly ok: false; readonly code: number | string };

/** A received message, as a test records it. */
export interface Received {
  readonly topic: string;
  readonly payload: string;
}

/**
 * mqtt.js clients for the broker tests (MQTT 3.1.1, no automatic reconnect unless asked),
 * each remembered so that `closeAll` ends every one of them, even after a failed test.
 */
export class TestClients {
  private readonly clients = new Set<MqttClient>();
  readonly received = new WeakMap<MqttClient, Received[]>();

  /** Connects and reports the CONNACK: ok with the client, or the refusal code. */
  async connect(url: string, options: IClientOptions): Promise<ConnectOutcome> {
    const client = mqtt.connect(url, { protocolVersion: 4, reconnectPeriod: 0, connectTimeout: 5_000, clean: true, ...options });
    this.clients.add(client);
    const log: Received[] = [];
    this.received.set(client, log);
    client.on('message', (topic, payload) => log.push({ topic, payload: payload.toString() }));
    return new Promise<ConnectOutcome>((resolve) => {
      const settle = (outcome: ConnectOutcome): void => {
        client.off('connect', onConnect);
        client.off('close', onClose);
        // Later errors (a dropped connection) are what some tests wait for, not failures.
        client.on('error', () => {});
        if (!outcome.ok) client.end(true);
        resolve(outcome);
      };
      const onConnect = (): void => settle({ ok: true, client });
      const onError = (err: Error & { code?: number | string }): void => settle({ ok: false, code: err.code ?? err.message });
      const onClose = (): void => settle({ ok: false, code: 'closed' });
      client.once('connect', onConnect);
      client.once('error', onError);
      client.once('close', onClose);
    });
  }

  /** Connects or fails the test with the refusal code. */
  async connected(url: string, options: IClientOptions): Promise<MqttClient> {
    const outcome = await this.connect(url, options);
    if (!outcome.ok) throw new Error(`connect as ${String(options.username)} / ${String(options.clientId)} refused: ${String(outcome.code)}`);
    return outcome.client;
  }

  messages(client: MqttClient): Received[] {
    return this.received.get(client) ?? [];
  }

  async closeAll(): Promise<void> {
    const all = [...this.clients];
    this.clients.clear();
    await Promise.all(all.map((c) => c.endAsync(true).catch(() => {})));
  }
}

/** Subscribes with QoS 1 and returns the SUBACK return code (0x80 = refused). */
export function subscribeCode(client: MqttClient, filter: string): Promise<number> {
  return new Promise((resolve, reject) => {
    client.subscribe(filter, { qos: 1 }, (err, granted, packet) => {
      const code = (packet as { granted?: number[] } | undefined)?.granted?.[0] ?? granted?.[0]?.qos;
      if (code !== undefined) resolve(code);
      else reject(err ?? new Error(`no SUBACK code for ${filter}`));
    });
  });
}

/** Resolves when the client's connection has closed (at once if it is not connected). */
export function closed(client: MqttClient): Promise<void> {
  if (!client.connected) return Promise.resolve();
  return new Promise((resolve) => client.once('close', () => resolve()));
}
