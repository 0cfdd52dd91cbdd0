import { collectDefaultMetrics } from './default-metrics.js';
import { Gauge, type Registry } from './prom-client.js';
import { RECORD_CLASSES } from '../../fleet/protocol/index.js';
import type { GatewayHealthReport, StoreCondition } from './health-report.js';

/**
 * Prometheus metrics read from the same health report the gateway publishes, so the two
 * never disagree. Totals since process start are exported as gauges named `_total`
 * because their value comes from the components' own counters.
 */
/** A gauge whose every scrape reads `source()` afresh and sets its values from it with `fill`. */
export function collectedGauge<T>(registry: Registry, source: () => T, name: string, help: string, labelNames: string[], fill: (g: Gauge<string>, value: T) => void): void {
  new Gauge({
    name,
    help,
    labelNames,
    registers: [registry],
    collect() {
      this.reset();
      fill(this, source());
    },
  });
}

export function registerGatewayMetrics(registry: Registry, report: () => GatewayHealthReport, store?: () => StoreCondition): void {
  collectDefaultMetrics({ register: registry, prefix: 'edgewise_process_' });
  let current: GatewayHealthReport | undefined;
  const fresh = (): GatewayHealthReport => (current ??= report());
  // One report per scrape: the first gauge's collect builds it, the rest reuse it.
  const gauge = (name: string, help: string, labelNames: string[], fill: (g: Gauge<string>, r: GatewayHealthReport) => void, first = false): void => {
    new Gauge({
      name,
      help,
      labelNames,
      registers: [registry],
      collect() {
        if (first) current = undefined;
        this.reset();
        fill(this, fresh());
      },
    });
  };
  gauge('edgewise_up', 'Gateway status: 1 ok, 0 degraded', [], (g, r) => g.set(r.status === 'ok' ? 1 : 0), true);
  gauge('edgewise_outbox_records', 'Records waiting in the outbox', ['class'], (g, r) => {
    for (const c of RECORD_CLASSES) g.set({ class: c }, r.store.records[c]);
  });
  gauge('edgewise_outbox_bytes', 'Bytes of records waiting in the outbox', ['class'], (g, r) => {
    for (const c of RECORD_CLASSES) g.set({ class: c }, r.store.bytes[c]);
  });
  gauge('edgewise_outbox_budget_bytes', 'Outbox disk budget', [], (g, r) => g.set(r.store.budgetBytes));
  gauge('edgewise_outbox_appended_total', 'Records appended since start', ['class'], (g, r) => {
    for (const c of RECORD_CLASSES) g.set({ class: c }, r.store.appended[c]);
  });
  gauge('edgewise_outbox_evicted_total', 'Records evicted by the disk budget since start', ['class'], (g, r) => {
    for (const c of RECORD_CLASSES) g.set({ class: c }, r.store.evicted[c]);
  });
  gauge('edgewise_outbox_consumer_pending', 'Records stored that this outbox consumer (an uplink) has not acknowledged', ['consumer'], (g, r) => {
    for (const [consumer, c] of Object.entries(r.store.consumers)) g.set({ consumer }, c.pending);
  });
  gauge('edgewise_uplink_connected', '1 while connected to the broker', [], (g, r) => g.set(r.uplink.connected ? 1 : 0));
  gauge('edgewise_uplink_acked_records_total', 'Records acknowledged by the broker since start', [], (g, r) => g.set(r.uplink.ackedRecords));
  gauge('edgewise_uplink_reconnects_total', 'Reconnects since start', [], (g, r) => g.set(r.uplink.reconnects));
  // Only with a `sparkplug` section; otherwise these have no value.
  gauge('edgewise_sparkplug_connected', '1 while the Sparkplug B edge node is connected to the plant broker', [], (g, r) => {
    if (r.sparkplug !== undefined) g.set(r.sparkplug.connected ? 1 : 0);
  });
  gauge('edgewise_sparkplug_acked_records_total', 'Records the plant broker acknowledged (Sparkplug DDATA) since start', [], (g, r) => {
    if (r.sparkplug !== undefined) g.set(r.sparkplug.ackedRecords);
  });
  gauge('edgewise_sparkplug_writes_total', 'Metric writes a Sparkplug host asked for (DCMD) since start, by outcome: written (the device confirmed), refused (never sent), failed (the source or device refused)', ['outcome'], (g, r) => {
    if (r.sparkplug === undefined) return;
    g.set({ outcome: 'written' }, r.sparkplug.writes);
    g.set({ outcome: 'refused' }, r.sparkplug.writesRefused);
    g.set({ outcome: 'failed' }, r.sparkplug.writesFailed);
  });
  gauge('edgewise_queue_depth_records', 'Records on a pipeline edge', ['pipeline', 'edge'], (g, r) => {
    for (const p of r.pipelines) for (const e of p.edges) g.set({ pipeline: p.id, edge: e.name }, e.depthRecords);
  });
  gauge('edgewise_queue_dropped_total', 'Records dropped by an edge overflow policy since start', ['pipeline', 'edge'], (g, r) => {
    for (const p of r.pipelines) for (const e of p.edges) g.set({ pipeline: p.id, edge: e.name }, e.dropped);
  });
  if (store === undefined) return;
  const storeGauge = (name: string, help: string, labelNames: string[], fill: (g: Gauge<string>, c: StoreCondition) => void): void => collectedGauge(registry, store, name, help, labelNames, fill);
  storeGauge('edgewise_store_corruption_lost_records', 'Records found damaged at open that could not be recovered (-1: unknown how many)', ['found', 'outcome'], (g, c) => {
    for (const x of c.corruptions) g.inc({ found: x.found, outcome: x.outcome }, x.lostRecords ?? -1);
  });
  storeGauge('edgewise_store_corruptions_total', 'Opens of this process that found the store damaged', [], (g, c) => g.set(c.corruptions.length));
  storeGauge('edgewise_store_dir_bytes', 'Allocated bytes of the data directory (du), last measured', [], (g, c) => g.set(c.budget.dirBytes));
  storeGauge('edgewise_store_dir_budget_bytes', 'store.maxSizeBytes: the budget for the whole data directory', [], (g, c) => g.set(c.budget.maxSizeBytes));
  storeGauge('edgewise_store_free_bytes', 'Free bytes on the data directory filesystem, last measured', [], (g, c) => {
    if (c.budget.freeBytes !== null) g.set(c.budget.freeBytes);
  });
  storeGauge('edgewise_store_low_space', '1 while below the free-space watermark (alerts only)', [], (g, c) => g.set(c.budget.lowSpace ? 1 : 0));
  storeGauge('edgewise_store_refused_low_space_total', 'Records refused below the free-space watermark since start', [], (g, c) => g.set(c.budget.refusedLowSpace));
}
