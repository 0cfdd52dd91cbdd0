import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { ProtocolError, fleetFilters } from '../protocol/index.js';
import { decodeRecordMessage, type RecordDelivery } from './record-message.js';

export type { RecordDelivery } from './record-message.js';

export interface RecordSubscriberOptions {
  readonly url: string;
  readonly clientId: string;
  /** Keep the subscription across disconnects (broker-side session), so an outage loses nothing. */
  readonly persistentSession: boolean;
  readonly mqtt?: IClientOptions;
  readonly onRecords: (delivery: RecordDelivery) => void;
  /** A message that was not a valid batch; the subscriber keeps running. */
  readonly onInvalid?: (topic: string, error: ProtocolError) => void;
}

/**
 * Receives every gateway's record batches over MQTT: subscribes to `edgewise/v1/gw/+/records`
 * with QoS 1, decodes and validates each batch, and hands the records on. Invalid messages
 * are reported and skipped. Deduplication by record id is the caller's (delivery is at
 * least once).
 *
 * With the embedded broker, consume in-process instead (`EmbeddedBroker.subscribe`): aedes
 * 1.2 delivers the messages it queued for a resuming persistent session interleaved with
 * live ones (checked here: thousands of inversions in one reconnect), which breaks
 * per-gateway order for an MQTT subscriber that was away. Mosquitto keeps the order.
 */
export class RecordSubscriber {
  private constructor(private readonly client: MqttClient) {}

  static async connect(options: RecordSubscriberOptions): Promise<RecordSubscriber> {
    const client = mqtt.connect(options.url, {
      clientId: options.clientId,
      protocolVersion: 4,
      clean: !options.persistentSession,
      reconnectPeriod: 250,
      ...options.mqtt,
    });
    client.on('message', (topic, payload) => {
      try {
        options.onRecords(decodeRecordMessage(topic, payload));
      } catch (err) {
        if (err instanceof ProtocolError) options.onInvalid?.(topic, err);
        else throw err;
      }
    });
    client.on('error', () => {
      // mqtt.js retries by itself (reconnectPeriod); errors are transient here.
    });
    await new Promise<void>((resolve, reject) => {
      client.once('connect', () => resolve());
      client.once('error', reject);
    });
    await client.subscribeAsync(fleetFilters.records, { qos: 1 });
    return new RecordSubscriber(client);
  }

  async close(): Promise<void> {
    await this.client.endAsync();
  }
}
