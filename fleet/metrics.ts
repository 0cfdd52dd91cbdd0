import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** Why the broker refused a connection. */
export type ConnectRejection = 'bad-credentials' | 'unknown-gateway' | 'revoked' | 'bad-client-id' | 'error';
/** Why the broker refused a publish or a subscribe. */
export type AclRejection = 'publish-denied' | 'subscribe-denied';
/** Why ingest dropped a message from a gateway (counted, never fatal). */
export type IngestDrop = 'decode' | 'invalid' | 'too-large' | 'topic';

/**
 * The fleet service's Prometheus metrics, one registry for the whole process, served at
 * `/metrics`. Each component gets this object and counts into it; names say the unit.
 */
export class FleetMetrics {
  readonly registry = new Registry();
  readonly connectedGateways: Gauge;
  readonly messagesIn: Counter<'kind'>;
  readonly messagesOut: Counter<'kind'>;
  readonly rejectedConnections: Counter<'reason'>;
  readonly rejectedMessages: Counter<'reason'>;
  readonly ingestDropped: Counter<'kind' | 'reason'>;
  readonly eventsStored: Counter<'kind'>;
  readonly duplicates: Counter;
  readonly telemetryRecords: Counter;
  readonly ingestFailedCommits: Counter;
  readonly ingestLag: Histogram;
  readonly ingestQueued: Gauge;
  readonly dbLatency: Histogram<'op'>;
  readonly httpRequests: Counter<'route' | 'status'>;
  readonly learningChunks: Counter<'result'>;
  readonly learningUpdates: Counter<'outcome' | 'reason'>;
  readonly learningSecAgg: Counter<'step' | 'outcome' | 'reason'>;
  readonly learningRounds: Counter<'outcome'>;
  readonly learningEpsilon: Gauge<'task'>;
  readonly liveStreams: Gauge;
  readonly liveResyncs: Counter<'reason'>;

  constructor() {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: 'edgewise_fleet_' });
    this.connectedGateways = new Gauge({ name: 'edgewise_fleet_connected_gateways', help: 'Gateways connected to the embedded broker now', registers });
    this.messagesIn = new Counter({ name: 'edgewise_fleet_messages_in_total', help: 'Messages received from gateways, by kind (records, state, health, update-report)', labelNames: ['kind'], registers });
    this.messagesOut = new Counter({ name: 'edgewise_fleet_messages_out_total', help: 'Messages the fleet published, by kind', labelNames: ['kind'], registers });
    this.rejectedConnections = new Counter({ name: 'edgewise_fleet_rejected_connections_total', help: 'MQTT connections refused, by reason', labelNames: ['reason'], registers });
    this.rejectedMessages = new Counter({ name: 'edgewise_fleet_rejected_acl_total', help: 'Publishes and subscribes refused by the ACL, by reason', labelNames: ['reason'], registers });
    this.ingestDropped = new Counter({ name: 'edgewise_fleet_ingest_dropped_total', help: 'Gateway messages or records dropped by ingest, by kind and reason', labelNames: ['kind', 'reason'], registers });
    this.eventsStored = new Counter({ name: 'edgewise_fleet_events_stored_total', help: 'Alerts, events and summaries stored (duplicates not counted)', labelNames: ['kind'], registers });
    this.duplicates = new Counter({ name: 'edgewise_fleet_duplicate_records_total', help: 'Records received again (a gateway resending after a crash) and stored once', registers });
    this.telemetryRecords = new Counter({ name: 'edgewise_fleet_telemetry_records_total', help: 'Telemetry records counted (not stored)', registers });
    this.ingestFailedCommits = new Counter({ name: 'edgewise_fleet_ingest_failed_commits_total', help: 'Database commits of gateway messages that failed (the messages were not acknowledged and come again)', registers });
    this.ingestLag = new Histogram({
      name: 'edgewise_fleet_ingest_lag_seconds',
      help: 'From a message reaching the fleet to its commit in the database',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    this.ingestQueued = new Gauge({ name: 'edgewise_fleet_ingest_queued_messages', help: 'Messages waiting for their database commit', registers });
    this.dbLatency = new Histogram({ name: 'edgewise_fleet_db_seconds', help: 'Database statement and transaction latency, by operation', labelNames: ['op'], buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5], registers });
    this.liveStreams = new Gauge({ name: 'edgewise_fleet_live_streams', help: 'Live event streams (GET /v1/live) open now', registers });
    this.liveResyncs = new Counter({ name: 'edgewise_fleet_live_resyncs_total', help: 'Resync events sent on live streams, by reason (overflow: a client read too slowly and its queue was dropped; lost-track: the fleet had more changes than it tracks, or could not read them)', labelNames: ['reason'], registers });
    this.httpRequests = new Counter({ name: 'edgewise_fleet_http_requests_total', help: 'HTTP API requests, by route and status', labelNames: ['route', 'status'], registers });
    this.learningChunks = new Counter({ name: 'edgewise_fleet_learning_chunks_total', help: 'Federated update chunks received, by result (partial, complete, duplicate, malformed, capacity, checksum)', labelNames: ['result'], registers });
    this.learningUpdates = new Counter({ name: 'edgewise_fleet_learning_updates_total', help: 'Complete federated updates, by outcome (accepted, buffered, rejected) and rejection reason', labelNames: ['outcome', 'reason'], registers });
    this.learningSecAgg = new Counter({ name: 'edgewise_fleet_learning_secagg_messages_total', help: 'Secure-aggregation messages from gateways, by step, outcome (accepted, rejected) and the protocol\'s refusal reason', labelNames: ['step', 'outcome', 'reason'], registers });
    this.learningRounds = new Counter({ name: 'edgewise_fleet_learning_rounds_total', help: 'Federated rounds closed, by outcome (model, below-quorum, privacy-budget-spent, aggregation-failed, abandoned)', labelNames: ['outcome'], registers });
    this.learningEpsilon = new Gauge({ name: 'edgewise_fleet_learning_epsilon_spent', help: 'Differential-privacy epsilon a task has spent (at its delta)', labelNames: ['task'], registers });
  }
}
