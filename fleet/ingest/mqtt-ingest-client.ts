import mqtt, { type MqttClient } from 'mqtt';
import { LEARNING_SECAGG_FILTER, LEARNING_UPDATE_FILTER, fleetFilters, parseLearningSecAggTopic, parseLearningUpdateTopic } from '../protocol/index.js';
import { FLEET_USERNAME } from '../registry/registry.js';
import type { Ingest } from './ingest.js';

export interface MqttIngestOptions {
  readonly url: string;
  readonly password: string;
  readonly ingest: Ingest;
  /** TLS material for mqtts:// (PEM contents). */
  readonly ca?: Buffer;
  /** Where federated update chunks go (the round service); without it they are not subscribed to. */
  readonly learning?: LearningChunkSink;
}

/** The round service as this client sees it. */
export interface LearningChunkSink {
  /**
   * One `learning-update` chunk from the gateway the topic names. An external broker does not
   * say who published; its ACL (fleet/broker/mosquitto-files.ts) lets a gateway publish only on
   * its own topics, so the topic's gateway is the sender. Never rejects.
   */
  accept(gatewayId: string, payload: Uint8Array): Promise<void>;
  /** One secure-aggregation message (`learning-secagg`) from the gateway the topic names, as `accept`. Never rejects. */
  acceptSecAgg(gatewayId: string, payload: Uint8Array): Promise<void>;
  /** A chunk dropped because MAX_PENDING_LEARNING_CHUNKS were still being handled. */
  overflow(gatewayId: string): void;
}

/** Update chunks handed to the round service and not yet done with (each waits for its ack's PUBACK at most). */
export const MAX_PENDING_LEARNING_CHUNKS = 256;
/** A stand-down waits this long for our publishes' PUBACKs, then ends the connection anyway. */
const CLOSE_GRACE_MS = 2000;

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
    let pendingChunks = 0;
    client.handleMessage = (packet, callback) => {
      const payload = typeof packet.payload === 'string' ? Buffer.from(packet.payload) : packet.payload;
      const secAgg = packet.topic.endsWith('/learning-secagg');
      if (o.learning !== undefined && (secAgg || packet.topic.endsWith('/learning-update'))) {
        // Acknowledged at once rather than when the round service is done: its answer (a chunk
        // ack) is a publish of this client, whose PUBACK mqtt.js reads only after this handler
        // returned, so waiting would deadlock. Nothing durable is at stake: an update being put
        // together lives in memory only, and a gateway resumes its upload from the fleet's acks.
        let gatewayId: string | undefined;
        try {
          gatewayId = secAgg ? parseLearningSecAggTopic(packet.topic) : parseLearningUpdateTopic(packet.topic);
        } catch {
          // The subscription's filter makes this a gateway id the ACL let through; anything else is dropped.
        }
        if (gatewayId !== undefined && pendingChunks >= MAX_PENDING_LEARNING_CHUNKS) o.learning.overflow(gatewayId);
        else if (gatewayId !== undefined) {
          pendingChunks += 1;
          void (secAgg ? o.learning.acceptSecAgg(gatewayId, payload) : o.learning.accept(gatewayId, payload)).finally(() => {
            pendingChunks -= 1;
          });
        }
        callback();
        return;
      }
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
      const filters = [...Object.values(fleetFilters), ...(o.learning === undefined ? [] : [LEARNING_UPDATE_FILTER, LEARNING_SECAGG_FILTER])];
      client.subscribe(filters, { qos: 1 }, (err) => {
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

  private closing = false;

  /**
   * QoS 1; resolves on the broker's PUBACK (while the broker is away mqtt.js keeps it and sends
   * it on reconnect). After close() it resolves without sending: this instance no longer leads,
   * and what it still had to say (a release notice, a round's announcement) is the next
   * leader's to say again.
   */
  async publish(topic: string, payload: Uint8Array, retain = false): Promise<void> {
    if (this.closing) return;
    try {
      await this.client.publishAsync(topic, Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength), { qos: 1, retain });
    } catch (err) {
      if (!this.closing) throw err;
    }
  }

  /**
   * Ends the session's connection (the broker keeps the session for the next holder). Our
   * publishes get CLOSE_GRACE_MS for their PUBACKs; then the connection is cut and those still
   * waiting resolve (see publish), so a stand-down never hangs on a broker that is away.
   */
  async close(): Promise<void> {
    this.closing = true;
    const c = this.client;
    if (Object.keys(c.outgoing).length > 0) {
      await new Promise<void>((resolve) => {
        const done = (): void => {
          clearTimeout(timer);
          c.off('outgoingEmpty', done);
          resolve();
        };
        const timer = setTimeout(done, CLOSE_GRACE_MS);
        c.once('outgoingEmpty', done);
      });
      for (const id of Object.keys(c.outgoing)) c.removeOutgoingMessage(Number(id));
    }
    // A DISCONNECT when connected; cut otherwise (mqtt.js would wait to send it).
    await c.endAsync(!c.connected);
  }
}
