import mqtt, { type MqttClient } from 'mqtt';
import { fleetFilters } from '../protocol/index.js';
import { FLEET_USERNAME } from '../registry/registry.js';
import type { Ingest } from './ingest.js';

export interface MqttIngestOptions {
  readonly url: string;
  readonly password: string;
  readonly ingest: Ingest;
  /** TLS material for mqtts:// (PEM contents). */
  readonly ca?: Buffer;
}

/**
 * Ingest from an external broker (Mosquitto, EMQX, HiveMQ): the fleet logs in as
 * `edgewise-fleet` on a persistent session (clean: false) and subscribes to every gateway's
 * topics with QoS 1, so the broker keeps what arrives while the fleet is away.
 *
 * mqtt.js handles one incoming message at a time, and its PUBACK goes out when our handler
 * is done. Messages that are stored (records carrying alerts, events or summaries) are
 * acknowledged after their commit; state, health and telemetry once queued (waiting for every
 * commit would make ingest one transaction per message). A commit that fails ends the
 * connection, so the broker sends the unacknowledged message again when we are back.
 */
export class MqttIngestClient {
  private constructor(private readonly client: MqttClient) {}

  /** Starts connecting and returns at once: a broker that is down at start is tried again, and health says so. */
  static connect(o: MqttIngestOptions): MqttIngestClient {
    const client = mqtt.connect(o.url, {
      clientId: FLEET_USERNAME,
      username: FLEET_USERNAME,
      password: o.password,
      protocolVersion: 4,
      clean: false,
      reconnectPeriod: 1000,
      connectTimeout: 10_000,
      ...(o.ca === undefined ? {} : { ca: o.ca }),
    });
    client.handleMessage = (packet, callback) => {
      const payload = typeof packet.payload === 'string' ? Buffer.from(packet.payload) : packet.payload;
      o.ingest.accept(packet.topic, payload, undefined, 'stored-records').then(
        () => callback(),
        () => {
          // No PUBACK: drop the connection; the broker redelivers on our persistent session.
          client.end(true, () => client.reconnect());
        },
      );
    };
    const ingestClient = new MqttIngestClient(client);
    client.on('error', (err) => {
      // Refused logins and lost connections: mqtt.js tries again; health says why meanwhile.
      ingestClient.lastError = err.message;
    });
    client.on('connect', () => {
      ingestClient.lastError = null;
      // The session keeps them (clean: false), but a broker that lost its state must learn them again.
      client.subscribe(Object.values(fleetFilters), { qos: 1 }, (err) => {
        if (err !== null && err !== undefined) ingestClient.lastError = `subscribe: ${err.message}`;
      });
    });
    return ingestClient;
  }

  /** Why the last connection attempt failed, while not connected. */
  lastError: string | null = null;

  get connected(): boolean {
    return this.client.connected;
  }

  async publish(topic: string, payload: Buffer, retain = false): Promise<void> {
    await this.client.publishAsync(topic, payload, { qos: 1, retain });
  }

  async close(): Promise<void> {
    await this.client.endAsync();
  }
}
