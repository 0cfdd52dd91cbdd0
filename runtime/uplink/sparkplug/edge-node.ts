import { setTimeout as sleep } from 'node:timers/promises';
import type { IClientOptions, MqttClient } from 'mqtt';
import type { ComponentEvents } from '../../health/events.js';
import { WaitList } from '../../wait-list.js';
import { Backoff } from '../backoff.js';
import { connectMqtt } from '../mqtt-connect.js';
import { withLoginAndTls } from '../mqtt-options.js';
import type { BdSeqStore } from './bd-seq.js';
import type { FeedRecord, SparkplugFeed } from './feed.js';
import { HostStateTracker, parseHostState, stateTopics } from './host-state.js';
import { DeviceCommands, type MetricWriter } from './device-commands.js';
import { aliasTable, encodeDeviceBirth, encodeDeviceData, encodeDeviceDeath, encodeNodeBirth, encodeNodeDeath, isRebirthCommand, type DeviceDef } from './metrics.js';
import { RecordMetrics } from './record-metrics.js';
import type { SparkplugSettings } from './schema.js';

export interface SparkplugFiles {
  readonly password?: string;
  readonly ca?: Buffer;
  readonly cert?: Buffer;
  readonly key?: Buffer;
}

export interface SparkplugStats {
  readonly connected: boolean;
  /** undefined: no primary host configured. */
  readonly hostOnline: boolean | undefined;
  /** True between an NBIRTH and the end of its session: data flows only then. */
  readonly born: boolean;
  readonly bdSeq: number | undefined;
  readonly connects: number;
  readonly births: number;
  readonly rebirthRequests: number;
  readonly publishedMessages: number;
  readonly publishedRecords: number;
  readonly ackedRecords: number;
  readonly historicalRecords: number;
  readonly inFlightMessages: number;
  /** Records of sources not in the config: acknowledged without sending. */
  readonly unmappedRecords: number;
  /** Values that do not fit their metric's datatype: sent as null. */
  readonly badValues: number;
  readonly unitMismatches: number;
  readonly invalidStateMessages: number;
  readonly staleStatesIgnored: number;
  readonly invalidCommands: number;
  readonly deviceDeaths: number;
  /** DCMD (device-commands.ts): commands received, writes done, refused and failed. */
  readonly deviceCommands: number;
  readonly writes: number;
  readonly writesRefused: number;
  readonly writesFailed: number;
  /** Since when data is held because the primary host is offline (null: not holding). */
  readonly holdingSinceMs: number | null;
  readonly lastPubackAgoMs: number | null;
  readonly lastError: string | null;
}

/** How long `stop` waits for PUBACKs already due and the NDEATH. */
const STOP_WAIT_MS = 3000;

/** One MQTT connection and, once born, its Sparkplug session. */
interface Session {
  readonly client: MqttClient;
  readonly bdSeq: number;
  /** Aborted when the connection closes or the node dies on it (host offline, stop). */
  readonly alive: AbortController;
  born: boolean;
  /** When this connection's first NBIRTH went out: records stored before it are historical. */
  birthAtMs: number;
  seq: number;
  /** A STATE message has been received on this connection (the birth waits for one). */
  stateSeen: boolean;
  pump: Promise<void> | undefined;
}

/**
 * The gateway as a Sparkplug B edge node on the plant's broker. One Sparkplug device per
 * configured source; metrics and aliases come from the config (metrics.ts).
 *
 * Per MQTT connection: the Will is an NDEATH with a fresh, persisted bdSeq (QoS 1, not
 * retained: tck-id-message-flow-edge-node-birth-publish-will-message-qos / -will-retained);
 * subscribe NCMD and the primary host's STATE; NBIRTH (seq 0) and every DBIRTH once the host
 * is online (tck-id-message-flow-edge-node-birth-publish-phid-wait), or at once without a
 * primary host; then DDATA from the feed, each record acknowledged to the feed only at the
 * PUBACK of its message. seq counts 0-255 over NBIRTH, DBIRTH, DDATA and DDEATH.
 *
 * A newer `online: false` STATE while born: NDEATH, disconnect, connect again and wait for the
 * host (tck-id-message-flow-edge-node-birth-publish-phid-offline,
 * tck-id-operational-behavior-edge-node-termination-host-offline); the feed is not read
 * meanwhile, so the data is held in the store. Whatever was stored before a session's birth
 * goes out with is_historical and its original timestamps.
 *
 * With a metric the config marks writable, it also subscribes to its devices' DCMD and writes
 * what a host sets through the device's source (device-commands.ts).
 */
export class SparkplugEdgeNode {
  private readonly stopAbort = new AbortController();
  private readonly backoff: Backoff;
  private readonly devices: DeviceDef[];
  private readonly deviceBySource: Map<string, DeviceDef>;
  /** Devices whose DDEATH was sent (setDeviceOnline false): no DBIRTH in births until they return. */
  private readonly deadDevices = new Set<string>();
  private readonly recordMetrics: RecordMetrics;
  private readonly host = new HostStateTracker();
  private readonly slotWaiters = new WaitList();
  private session: Session | undefined;
  private loop: Promise<void> | undefined;
  private inFlight = 0;
  private holdingSince: number | null = null;
  private lastPubackAt: number | null = null;
  private lastError: string | null = null;
  private readonly counts = {
    connects: 0,
    births: 0,
    rebirthRequests: 0,
    publishedMessages: 0,
    publishedRecords: 0,
    ackedRecords: 0,
    historicalRecords: 0,
    unmappedRecords: 0,
    invalidStateMessages: 0,
    invalidCommands: 0,
    deviceDeaths: 0,
  };
  private readonly topic: (type: string, device?: string) => string;
  private readonly commands: DeviceCommands;

  constructor(
    private readonly feed: SparkplugFeed,
    private readonly settings: SparkplugSettings,
    private readonly files: SparkplugFiles,
    private readonly bdSeqStore: BdSeqStore,
    private readonly events: ComponentEvents,
    /** How a DCMD's writes reach the sources; without it every write is refused. */
    writer?: MetricWriter,
  ) {
    this.backoff = new Backoff(settings.reconnect);
    this.recordMetrics = new RecordMetrics(events);
    this.devices = aliasTable(settings.sources);
    this.commands = new DeviceCommands(this.devices, writer, events, (reason) => {
      this.counts.invalidCommands += 1;
      this.events.warn('sparkplug.command_invalid', { code: 'E_PAYLOAD_INVALID', reason });
    });
    this.deviceBySource = new Map(this.devices.map((d) => [d.sourceId, d]));
    this.topic = (type, device) => `spBv1.0/${settings.groupId}/${type}/${settings.edgeNodeId}${device === undefined ? '' : `/${device}`}`;
  }

  /** The alias table (for the wiring's docs and for tests). */
  get deviceDefs(): readonly DeviceDef[] {
    return this.devices;
  }

  stats(): SparkplugStats {
    const s = this.session;
    return {
      ...this.counts,
      ...this.commands.counts,
      connected: s !== undefined && s.client.connected,
      hostOnline: this.settings.primaryHostId === undefined ? undefined : this.host.online,
      born: s?.born === true,
      bdSeq: this.bdSeqStore.current,
      inFlightMessages: this.inFlight,
      staleStatesIgnored: this.host.staleIgnored,
      badValues: this.recordMetrics.badValues,
      unitMismatches: this.recordMetrics.unitMismatches,
      holdingSinceMs: this.holdingSince,
      lastPubackAgoMs: this.lastPubackAt === null ? null : Date.now() - this.lastPubackAt,
      lastError: this.lastError,
    };
  }

  /** Why the uplink is degraded, or undefined when data flows. */
  degradedReason(): string | undefined {
    const s = this.session;
    if (s === undefined || !s.client.connected) return `sparkplug: not connected to the broker${this.lastError === null ? '' : ` (${this.lastError})`}`;
    if (s.born) return undefined;
    if (this.settings.primaryHostId !== undefined) {
      return this.host.known && !this.host.online ? `sparkplug: primary host ${this.settings.primaryHostId} is offline; data is held` : `sparkplug: waiting for the STATE of primary host ${this.settings.primaryHostId}`;
    }
    return 'sparkplug: connected, birth not sent yet';
  }

  start(): void {
    this.loop ??= this.run();
  }

  private clientOptions(bdSeq: number): IClientOptions {
    const { settings, files } = this;
    const options: IClientOptions = {
      clientId: settings.clientId,
      protocolVersion: 4,
      // tck-id-principles-persistence-clean-session-311: a Sparkplug session is a clean session.
      clean: true,
      reconnectPeriod: 0,
      keepalive: settings.keepaliveS,
      connectTimeout: settings.connectTimeoutMs,
      rejectUnauthorized: settings.tls.rejectUnauthorized,
      will: { topic: this.topic('NDEATH'), payload: Buffer.from(encodeNodeDeath(bdSeq, Date.now())), qos: 1, retain: false },
      writeCache: false,
    };
    return withLoginAndTls(options, settings, files);
  }

  private async run(): Promise<void> {
    const stop = this.stopAbort.signal;
    while (!stop.aborted) {
      let client: MqttClient;
      let bdSeq: number;
      try {
        // A bdSeq that cannot be stored is not used: a restart could reuse it (bd-seq.ts).
        bdSeq = await this.bdSeqStore.next();
        client = await connectMqtt(this.settings.url, this.clientOptions(bdSeq));
      } catch (err) {
        this.lastError = (err as Error).message;
        const delay = this.backoff.next();
        this.events.error('sparkplug.connect_failed', { code: 'E_UPLINK_CONNECT', reason: this.lastError, retryInMs: Math.round(delay) });
        await sleep(delay, undefined, { signal: stop }).catch(() => undefined);
        continue;
      }
      const session: Session = { client, bdSeq, alive: new AbortController(), born: false, birthAtMs: 0, seq: 0, stateSeen: false, pump: undefined };
      const dcmdPrefix = `${this.topic('DCMD')}/`;
      this.session = session;
      let wasConnected = false;
      let hostWentOffline = false;
      const closed = new Promise<void>((resolve) => {
        client.on('error', (err) => {
          this.lastError = err.message;
        });
        client.on('close', () => resolve());
      });
      client.on('message', (topic, payload) => {
        if (topic === this.topic('NCMD')) this.onCommand(session, payload);
        else if (topic.startsWith(dcmdPrefix)) this.commands.handle(topic.slice(dcmdPrefix.length), payload);
        else if (this.onState(session, topic, payload)) hostWentOffline = true;
      });
      client.on('connect', () => {
        wasConnected = true;
        this.counts.connects += 1;
        this.events.info('sparkplug.connected', { bdSeq, reconnects: this.counts.connects - 1 });
        client.subscribe(this.topic('NCMD'), { qos: 1 });
        // DCMD only when a metric is writable: a node without one gives hosts nothing to command.
        if (DeviceCommands.wanted(this.devices)) client.subscribe(`${dcmdPrefix}+`, { qos: 1 });
        if (this.settings.primaryHostId === undefined) this.birth(session);
        else for (const t of stateTopics(this.settings.primaryHostId, this.settings.stateFormat)) client.subscribe(t, { qos: 1 });
      });
      const stopped = new Promise<void>((resolve) => stop.addEventListener('abort', () => resolve(), { once: true }));
      await Promise.race([closed, stopped]);
      if (stop.aborted && client.connected) return; // stop() says goodbye on a live connection
      await this.endSession(session);
      if (stop.aborted) return;
      if (hostWentOffline) this.backoff.reset();
      const delay = hostWentOffline ? this.settings.reconnect.minDelayMs : this.backoff.next();
      this.events.warn(wasConnected ? 'sparkplug.disconnected' : 'sparkplug.connect_failed', { code: 'E_UPLINK_CONNECT', reason: hostWentOffline ? 'primary host offline' : (this.lastError ?? 'connection closed'), retryInMs: Math.round(delay) });
      await sleep(delay, undefined, { signal: stop }).catch(() => undefined);
    }
  }

  /** After the connection closed: stop the pump and hand back what was read and not acknowledged. */
  private async endSession(session: Session): Promise<void> {
    session.alive.abort();
    session.born = false;
    session.client.removeAllListeners('connect');
    session.client.end(true);
    this.slotWaiters.wakeAll();
    await session.pump;
    this.inFlight = 0;
    this.feed.release();
    if (this.session === session) this.session = undefined;
  }

  private nextSeq(session: Session): number {
    session.seq = (session.seq + 1) % 256;
    return session.seq;
  }

  private publish(session: Session, topic: string, payload: Uint8Array, done?: (err: Error | undefined) => void): void {
    session.client.publish(topic, Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength), { qos: this.settings.qos, retain: false }, (err) => done?.(err ?? undefined));
  }

  /** NBIRTH (seq 0, this connection's bdSeq) and a DBIRTH per live device; the first one of a connection starts the pump. */
  private birth(session: Session): void {
    const now = Date.now();
    session.seq = 0;
    this.publish(session, this.topic('NBIRTH'), encodeNodeBirth(session.bdSeq, now));
    for (const d of this.devices) if (!this.deadDevices.has(d.sourceId)) this.publish(session, this.topic('DBIRTH', d.deviceId), encodeDeviceBirth(d, this.recordMetrics.lastValues, this.nextSeq(session), now));
    this.counts.births += 1;
    this.holdingSince = null;
    this.events.info('sparkplug.birth', { bdSeq: session.bdSeq, devices: this.devices.length - this.deadDevices.size });
    if (!session.born) {
      session.born = true;
      session.birthAtMs = now;
      session.pump = this.pump(session).catch((err: unknown) => {
        this.lastError = (err as Error).message;
        this.events.error('sparkplug.pump_failed', { code: 'E_UPLINK_PUMP', reason: this.lastError });
        session.client.end(true);
      });
    }
  }

  /** Returns true when the host went offline and the node died for it (the caller reconnects). */
  private onState(session: Session, topic: string, payload: Buffer): boolean {
    let state;
    try {
      state = parseHostState(topic, payload);
    } catch (err) {
      this.counts.invalidStateMessages += 1;
      this.events.warn('sparkplug.state_invalid', { code: 'E_PAYLOAD_INVALID', topic, reason: (err as Error).message });
      return false;
    }
    if (!this.host.accept(state)) {
      this.events.info('sparkplug.state_stale', { topic, timestamp: state.timestamp, online: state.online });
      return false;
    }
    session.stateSeen = true;
    if (state.online) {
      if (!session.born) this.birth(session);
      return false;
    }
    this.holdingSince ??= Date.now();
    if (!session.born) return false;
    // tck-id-message-flow-edge-node-birth-publish-phid-offline: NDEATH at once, disconnect, start over.
    this.events.warn('sparkplug.host_offline', { code: 'E_SPARKPLUG_HOST_OFFLINE', host: this.settings.primaryHostId, bdSeq: session.bdSeq });
    session.born = false;
    session.alive.abort();
    // Then DISCONNECT (tck-id-operational-behavior-edge-node-intentional-disconnect-packet: MAY),
    // so the broker does not publish the Will as a second NDEATH.
    session.client.publish(this.topic('NDEATH'), Buffer.from(encodeNodeDeath(session.bdSeq, Date.now())), { qos: 1, retain: false }, () => session.client.end(false));
    return true;
  }

  private onCommand(session: Session, payload: Buffer): void {
    let rebirth: boolean;
    try {
      rebirth = isRebirthCommand(payload);
    } catch (err) {
      this.counts.invalidCommands += 1;
      this.events.warn('sparkplug.command_invalid', { code: 'E_PAYLOAD_INVALID', reason: (err as Error).message });
      return;
    }
    if (!rebirth) return;
    this.counts.rebirthRequests += 1;
    this.events.info('sparkplug.rebirth_requested', { bdSeq: session.bdSeq, born: session.born });
    // No rebirth while the primary host is offline: the node is holding, not born.
    if (session.born) this.birth(session);
  }

  /**
   * A source went away (DDEATH) or came back (DBIRTH). The gateway calls it from the sources'
   * `answering()` (device-liveness.ts); a record of a dead device also brings it back (its DBIRTH
   * goes first).
   */
  setDeviceOnline(sourceId: string, online: boolean): void {
    const d = this.deviceBySource.get(sourceId);
    if (d === undefined || online === !this.deadDevices.has(sourceId)) return;
    if (online) this.deadDevices.delete(sourceId);
    else {
      this.deadDevices.add(sourceId);
      this.counts.deviceDeaths += 1;
    }
    const s = this.session;
    if (s === undefined || !s.born) return;
    if (online) this.publish(s, this.topic('DBIRTH', d.deviceId), encodeDeviceBirth(d, this.recordMetrics.lastValues, this.nextSeq(s), Date.now()));
    else this.publish(s, this.topic('DDEATH', d.deviceId), encodeDeviceDeath(this.nextSeq(s), Date.now()));
  }

  private async pump(session: Session): Promise<void> {
    const signal = session.alive.signal;
    while (!signal.aborted) {
      if (this.inFlight >= this.settings.maxInFlight) {
        await this.slotWaiters.wait(signal);
        continue;
      }
      const records = await this.feed.next(this.settings.batchMaxRecords, signal);
      if (signal.aborted || !session.born) break; // read but not sent: release() hands them back
      let run: FeedRecord[] = [];
      const unmapped: FeedRecord[] = [];
      for (const r of records) {
        if (!this.deviceBySource.has(r.sourceId)) {
          unmapped.push(r);
          continue;
        }
        if (run.length > 0 && run[0]?.sourceId !== r.sourceId) {
          this.sendData(session, run);
          run = [];
        }
        run.push(r);
      }
      if (run.length > 0) this.sendData(session, run);
      if (unmapped.length > 0) {
        this.counts.unmappedRecords += unmapped.length;
        this.feed.ack(unmapped);
      }
    }
  }

  /** One DDATA for consecutive records of one device. */
  private sendData(session: Session, records: readonly FeedRecord[]): void {
    const device = this.deviceBySource.get(records[0]?.sourceId ?? '') as DeviceDef;
    if (this.deadDevices.delete(device.sourceId)) this.publish(session, this.topic('DBIRTH', device.deviceId), encodeDeviceBirth(device, this.recordMetrics.lastValues, this.nextSeq(session), Date.now()));
    const { metrics, historical } = this.recordMetrics.toMetrics(device, records, session.birthAtMs);
    this.inFlight += 1;
    this.counts.publishedMessages += 1;
    this.counts.publishedRecords += records.length;
    this.counts.historicalRecords += historical;
    this.publish(session, this.topic('DDATA', device.deviceId), encodeDeviceData(metrics, this.nextSeq(session), Date.now(), this.settings.datatypeInData), (err) => {
      if (session.alive.signal.aborted && err !== undefined) return; // the session ended: released, sent again after the next birth
      this.inFlight -= 1;
      this.slotWaiters.wakeAll();
      if (err !== undefined) {
        this.lastError = err.message;
        return;
      }
      this.lastPubackAt = Date.now();
      this.backoff.reset();
      this.counts.ackedRecords += records.length;
      this.feed.ack(records);
    });
  }

  /**
   * Stops reading, waits briefly for PUBACKs already due, publishes the NDEATH
   * (tck-id-operational-behavior-edge-node-intentional-disconnect-ndeath) and disconnects.
   */
  async stop(): Promise<void> {
    this.stopAbort.abort();
    const s = this.session;
    if (s !== undefined && s.client.connected) {
      s.alive.abort();
      const deadline = Date.now() + STOP_WAIT_MS;
      while (this.inFlight > 0 && Date.now() < deadline - 1000 && s.client.connected) await sleep(10);
      const timers = new AbortController();
      const timeout = sleep(Math.max(100, deadline - Date.now()), undefined, { signal: timers.signal }).catch(() => undefined);
      try {
        await Promise.race([s.client.publishAsync(this.topic('NDEATH'), Buffer.from(encodeNodeDeath(s.bdSeq, Date.now())), { qos: 1, retain: false }).catch(() => undefined), timeout]);
        await Promise.race([s.client.endAsync().catch(() => undefined), timeout]);
      } finally {
        timers.abort();
        // A silent broker leaves endAsync waiting: destroy the socket, or the process lingers.
        s.client.stream?.destroy();
      }
      await this.endSession(s);
    }
    await this.loop;
  }
}
