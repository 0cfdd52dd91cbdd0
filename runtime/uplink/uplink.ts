import { setTimeout as sleep } from 'node:timers/promises';
import type { MqttClient } from 'mqtt';
import { BATCH_OVERHEAD_BYTES, BATCH_PER_RECORD_OVERHEAD_BYTES, MAX_BATCH_BYTES, encodeBatch, encodeState, gatewayTopics } from '../../fleet/protocol/index.js';
import type { ComponentEvents } from '../health/events.js';
import type { OutboxReader, StoredRecord } from '../store/outbox.js';
import { WaitList } from '../wait-list.js';
import { Backoff } from './backoff.js';
import { connectMqtt } from './mqtt-connect.js';
import { mqttClientOptions, type UplinkFiles, type UplinkSettings } from './mqtt-options.js';
import { isWildcardFilter, topicMatches } from './topic-filter.js';

export interface UplinkStats {
  readonly connected: boolean;
  readonly publishedRecords: number;
  readonly ackedRecords: number;
  readonly publishedMessages: number;
  readonly inFlightMessages: number;
  readonly connects: number;
  readonly reconnects: number;
  readonly lastError: string | null;
}

/** How long `stop` may take in all: PUBACKs already due, the goodbye, the disconnect. */
const STOP_WAIT_MS = 3000;
/** A connection that stayed up this long resets the reconnect backoff even without a PUBACK. */
const HEALTHY_CONNECTION_MS = 60_000;
/** Messages kept for the next connection at most (update reports while offline); older ones are dropped first. */
const MAX_QUEUED_MESSAGES = 200;

/**
 * Drains the outbox to an MQTT broker: oldest first, batches of records per message,
 * QoS 1, a bounded window of messages in flight, and a record is deleted only after its
 * message's PUBACK. On any disconnect the leases go back to the outbox and the next
 * connection starts again at the oldest unacknowledged record, so nothing is skipped;
 * the receiver drops the duplicates by record id.
 *
 * Each connection attempt is a fresh mqtt.js client with auto-reconnect off: mqtt.js keeps
 * unacknowledged messages only in memory, and resending them itself would race our own
 * redelivery from the outbox.
 */
export class MqttUplink {
  private readonly stopAbort = new AbortController();
  private readonly backoff: Backoff;
  private client: MqttClient | undefined;
  private readonly subscriptions = new Map<string, (payload: Uint8Array, topic: string) => void>();
  /** PUBACK waits of the live connection (publishAcked), rejected when it closes. */
  private readonly ackWaits = new Set<(err: Error) => void>();
  private readonly connectListeners = new Set<() => void>();
  private queued: { topic: string; payload: Uint8Array }[] = [];
  private droppedMessages = 0;
  private connected = false;
  private inFlight = 0;
  private readonly slotWaiters = new WaitList();
  private publishedRecords = 0;
  private ackedRecords = 0;
  private publishedMessages = 0;
  private connects = 0;
  private lastError: string | null = null;
  private ackedOnConnection = false;
  private loop: Promise<void> | undefined;
  /** When the connect attempt in progress began (undefined: none in progress). */
  private connectingSince: number | undefined;
  /** The last PUBACK, or the moment in-flight went from 0 to 1: the clock of "no answer". */
  private lastAnswerAt = 0;
  private readonly recordsTopic: string;
  private readonly stateTopic: string;
  private readonly maxBatchBytes: number;

  constructor(
    private readonly outbox: OutboxReader,
    private readonly settings: UplinkSettings,
    private readonly files: UplinkFiles,
    private readonly gatewayId: string,
    private readonly runtimeVersion: string,
    private readonly events: ComponentEvents,
  ) {
    this.backoff = new Backoff(settings.reconnect);
    this.recordsTopic = gatewayTopics.records(gatewayId);
    this.stateTopic = gatewayTopics.state(gatewayId);
    this.maxBatchBytes = Math.min(settings.batchMaxBytes, MAX_BATCH_BYTES - BATCH_OVERHEAD_BYTES - settings.batchMaxRecords * BATCH_PER_RECORD_OVERHEAD_BYTES);
  }

  stats(): UplinkStats {
    return {
      connected: this.connected,
      publishedRecords: this.publishedRecords,
      ackedRecords: this.ackedRecords,
      publishedMessages: this.publishedMessages,
      inFlightMessages: this.inFlight,
      connects: this.connects,
      reconnects: Math.max(0, this.connects - 1),
      lastError: this.lastError,
    };
  }

  start(): void {
    this.loop ??= this.run();
  }

  /**
   * Why the uplink is stuck, or undefined when it is alive (the systemd watchdog pings only
   * while it is). A broker that is down or refuses us is not stuck: the uplink is retrying, and
   * a restart would not help. Stuck is a step that should have ended by itself and did not: a
   * connect attempt past mqtt.js's connectTimeout, or records in flight with no PUBACK for
   * longer than the keepalive would take to notice a dead connection (1.5 x keepalive), plus
   * `graceMs` either way.
   */
  stuck(nowMs: number, graceMs: number): string | undefined {
    if (this.stopAbort.signal.aborted) return undefined;
    if (this.connectingSince !== undefined) {
      const waited = nowMs - this.connectingSince;
      if (waited > this.settings.connectTimeoutMs + graceMs) return `uplink: a connect attempt has not ended for ${Math.round(waited / 1000)} s (connectTimeoutMs ${this.settings.connectTimeoutMs})`;
    }
    if (this.connected && this.inFlight > 0) {
      const waited = nowMs - this.lastAnswerAt;
      if (waited > 1500 * this.settings.keepaliveS + graceMs) return `uplink: ${this.inFlight} message(s) in flight and no PUBACK for ${Math.round(waited / 1000)} s on a connection the client thinks is open`;
    }
    return undefined;
  }

  private statePayload(state: 'online' | 'offline', clean: boolean): Buffer {
    return Buffer.from(encodeState({ gw: this.gatewayId, state, ts: Date.now(), clean, runtimeVersion: this.runtimeVersion }));
  }

  private async run(): Promise<void> {
    const stop = this.stopAbort.signal;
    const stopped = new Promise<void>((resolve) => stop.addEventListener('abort', () => resolve(), { once: true }));
    while (!stop.aborted) {
      const connAbort = new AbortController();
      let client: MqttClient;
      this.connectingSince = Date.now();
      try {
        client = await connectMqtt(
          this.settings.url,
          mqttClientOptions(this.settings, this.files, this.settings.clientId ?? `edgewise-${this.gatewayId}`, {
            topic: this.stateTopic,
            payload: this.statePayload('offline', false),
            qos: 1,
            retain: true,
          }),
        );
      } catch (err) {
        this.connectingSince = undefined;
        // mqtt.js (tls.connect) throws for some bad TLS material; keep serving and retrying.
        this.lastError = (err as Error).message;
        const delay = this.backoff.next();
        this.events.error('uplink.connect_failed', { code: 'E_UPLINK_CONNECT', url: redact(this.settings.url), reason: this.lastError, retryInMs: Math.round(delay) });
        await sleep(delay, undefined, { signal: stop }).catch(() => undefined);
        continue;
      }
      this.client = client;
      let connectedAt = 0;
      // Still connecting until CONNACK or close: mqtt.js's connectTimeout bounds that.
      const closed = new Promise<void>((resolve) => {
        client.on('error', (err) => {
          this.lastError = err.message;
        });
        client.on('close', () => {
          connAbort.abort();
          resolve();
        });
      });
      client.on('message', (topic, payload) => {
        const handler = this.handlerFor(topic);
        if (handler === undefined) return;
        try {
          handler(new Uint8Array(payload), topic);
        } catch (err) {
          this.events.warn('uplink.message_rejected', { code: 'E_PAYLOAD_INVALID', topic, reason: (err as Error).message });
        }
      });
      client.on('connect', () => {
        this.connectingSince = undefined;
        this.connected = true;
        this.connects += 1;
        connectedAt = Date.now();
        this.ackedOnConnection = false;
        this.events.info('uplink.connected', { url: redact(this.settings.url), reconnects: this.connects - 1 });
        client.publish(this.stateTopic, this.statePayload('online', true), { qos: 1, retain: true });
        for (const topic of this.subscriptions.keys()) client.subscribe(topic, { qos: 1 });
        for (const m of this.queued.splice(0)) client.publish(m.topic, Buffer.from(m.payload), { qos: 1 });
        for (const listener of this.connectListeners) {
          try {
            listener();
          } catch (err) {
            this.events.error('uplink.connect_listener_failed', { code: 'E_UPLINK_LISTENER', reason: (err as Error).message });
          }
        }
        void this.pump(client, connAbort.signal).catch((err: unknown) => {
          this.lastError = (err as Error).message;
          this.events.error('uplink.pump_failed', { code: 'E_UPLINK_PUMP', reason: (err as Error).message });
          client.end(true);
        });
      });
      await Promise.race([closed, stopped]);
      if (stop.aborted && !connAbort.signal.aborted) return; // stop() owns the goodbye on a live connection
      const wasConnected = this.connected;
      this.connected = false;
      this.connectingSince = undefined;
      client.removeAllListeners('connect');
      client.end(true);
      this.client = undefined;
      this.failAckWaits('the connection to the broker closed before the PUBACK');
      this.slotWaiters.wakeAll();
      await this.outbox.releaseAll();
      if (stop.aborted) return;
      // A connection that lasted is a fresh start; one that the broker dropped at once is not.
      if (wasConnected && Date.now() - connectedAt >= HEALTHY_CONNECTION_MS) this.backoff.reset();
      const delay = this.backoff.next();
      this.events.warn(wasConnected ? 'uplink.disconnected' : 'uplink.connect_failed', {
        code: 'E_UPLINK_CONNECT',
        url: redact(this.settings.url),
        reason: this.lastError ?? 'connection closed',
        retryInMs: Math.round(delay),
      });
      await sleep(delay, undefined, { signal: stop }).catch(() => undefined);
    }
  }

  private async pump(client: MqttClient, signal: AbortSignal): Promise<void> {
    const { batchMaxRecords, maxInFlight } = this.settings;
    while (!signal.aborted && !this.stopAbort.signal.aborted) {
      if (this.inFlight >= maxInFlight) {
        await this.slotWaiters.wait(signal);
        continue;
      }
      const seen = this.outbox.changeVersion;
      const batch = await this.outbox.readNext(batchMaxRecords, this.maxBatchBytes, signal);
      // A lease taken before the connection died is handed back by releaseAll in run().
      if (signal.aborted) break;
      if (batch.length === 0) {
        await this.outbox.waitForChange(seen, signal);
        continue;
      }
      this.send(client, batch);
    }
  }

  private send(client: MqttClient, batch: StoredRecord[]): void {
    const payload = encodeBatch(this.gatewayId, Date.now(), batch.map((r) => r.value));
    if (this.inFlight === 0) this.lastAnswerAt = Date.now();
    this.inFlight += 1;
    this.publishedMessages += 1;
    this.publishedRecords += batch.length;
    client.publish(this.recordsTopic, Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength), { qos: 1 }, (err) => {
      this.inFlight -= 1;
      this.lastAnswerAt = Date.now();
      this.slotWaiters.wakeAll();
      if (err !== undefined && err !== null) {
        this.lastError = err.message;
        return; // still leased; redelivered after the reconnect
      }
      this.ackedRecords += batch.length;
      // The broker takes our records: only now is the reconnect backoff reset. (Reset on
      // CONNACK alone, a broker that drops us at the first publish would see a storm.)
      if (!this.ackedOnConnection) {
        this.ackedOnConnection = true;
        this.backoff.reset();
      }
      this.outbox.ack(batch);
    });
  }


  /** The handler of a topic: its own subscription, else the first wildcard filter that matches it. */
  private handlerFor(topic: string): ((payload: Uint8Array, topic: string) => void) | undefined {
    const exact = this.subscriptions.get(topic);
    if (exact !== undefined) return exact;
    for (const [filter, handler] of this.subscriptions) if (isWildcardFilter(filter) && topicMatches(filter, topic)) return handler;
    return undefined;
  }

  private failAckWaits(reason: string): void {
    const err = Object.assign(new Error(reason), { code: 'E_UPLINK_OFFLINE' });
    for (const fail of [...this.ackWaits]) fail(err);
    this.ackWaits.clear();
  }

  /**
   * Publishes one message (QoS 1) and resolves at its PUBACK. Rejects (code E_UPLINK_OFFLINE)
   * at once while disconnected, and when the connection closes before the PUBACK: nothing is
   * queued or resent here, the caller decides what to send again after the next connect
   * (federated update chunks, which the fleet acknowledges by itself).
   */
  publishAcked(topic: string, payload: Uint8Array): Promise<void> {
    const client = this.client;
    if (client === undefined || !this.connected) return Promise.reject(Object.assign(new Error('not connected to the broker'), { code: 'E_UPLINK_OFFLINE' }));
    return new Promise<void>((resolve, reject) => {
      const fail = (err: Error): void => reject(err);
      this.ackWaits.add(fail);
      client.publish(topic, Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength), { qos: 1 }, (err) => {
        if (!this.ackWaits.delete(fail)) return; // already failed by the close
        if (err !== undefined && err !== null) reject(Object.assign(new Error(err.message), { code: 'E_UPLINK_OFFLINE' }));
        else resolve();
      });
    });
  }

  /**
   * Inbound messages (release notices, federated round messages): subscribed, QoS 1, on every
   * connection. `topic` may be a filter with `+` or `#`; a message goes to the handler of its
   * own topic, else to the first matching filter. Payloads are from outside and must be
   * validated by the handler.
   */
  subscribe(topic: string, handler: (payload: Uint8Array, topic: string) => void): void {
    this.subscriptions.set(topic, handler);
    if (this.client !== undefined && this.connected) this.client.subscribe(topic, { qos: 1 });
  }

  /**
   * Calls `listener` right after every connect and reconnect (after the online state and the
   * queued messages went out), so a retained message such as the health report is current
   * from the first moment of a connection. Returns a function that removes the listener.
   */
  onConnect(listener: () => void): () => void {
    this.connectListeners.add(listener);
    return () => this.connectListeners.delete(listener);
  }

  /**
   * Publishes a message (QoS 1); while disconnected the latest MAX_QUEUED_MESSAGES wait and go
   * out on the next connection (update reports: older ones are dropped first, and counted).
   */
  publishSoon(topic: string, payload: Uint8Array): void {
    if (this.client !== undefined && this.connected) {
      this.client.publish(topic, Buffer.from(payload), { qos: 1 });
      return;
    }
    this.queued.push({ topic, payload });
    if (this.queued.length > MAX_QUEUED_MESSAGES) {
      this.queued.shift();
      this.droppedMessages += 1;
    }
  }

  /** Publishes a retained JSON message if connected (health reports: only the latest matters). */
  publishRetained(topic: string, payload: Uint8Array): void {
    if (this.client !== undefined && this.connected) this.client.publish(topic, Buffer.from(payload), { qos: 1, retain: true });
  }

  /**
   * Stops sending, waits briefly for PUBACKs already due, says `offline` (retained, so the
   * fleet tells a clean stop from a crash), and disconnects.
   */
  async stop(): Promise<void> {
    this.stopAbort.abort();
    const client = this.client;
    if (client !== undefined && this.connected) {
      const timers = new AbortController();
      const deadline = Date.now() + STOP_WAIT_MS;
      const timeout = (): Promise<void> => sleep(Math.max(100, deadline - Date.now()), undefined, { signal: timers.signal }).catch(() => undefined);
      try {
        while (this.inFlight > 0 && Date.now() < deadline - 1000 && this.connected) await sleep(10);
        await Promise.race([client.publishAsync(this.stateTopic, this.statePayload('offline', true), { qos: 1, retain: true }).catch(() => undefined), timeout()]);
        this.connected = false;
        await Promise.race([client.endAsync().catch(() => undefined), timeout()]);
      } finally {
        timers.abort();
        // A silent broker or a half-open link leaves endAsync waiting (and end(true) is a no-op
        // while it waits): destroy the socket, or the process lingers until TCP gives up.
        client.stream?.destroy();
      }
    }
    await this.loop;
    this.client?.end(true);
    this.client = undefined;
    this.failAckWaits('the uplink stopped');
    this.connected = false;
    await this.outbox.releaseAll();
  }
}

/** The URL without credentials, for logs. */
function redact(url: string): string {
  try {
    const u = new URL(url);
    u.username = '';
    u.password = '';
    return u.toString();
  } catch {
    return '(invalid url)';
  }
}
