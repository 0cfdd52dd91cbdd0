import Counter from 'prom-client/lib/counter.js';
import eventLoopLag from 'prom-client/lib/metrics/eventLoopLag.js';
import gc from 'prom-client/lib/metrics/gc.js';
import heapSizeAndUsed from 'prom-client/lib/metrics/heapSizeAndUsed.js';
import heapSpacesSizeAndUsed from 'prom-client/lib/metrics/heapSpacesSizeAndUsed.js';
import osMemoryHeap from 'prom-client/lib/metrics/osMemoryHeap.js';
import processHandles from 'prom-client/lib/metrics/processHandles.js';
import processMaxFileDescriptors from 'prom-client/lib/metrics/processMaxFileDescriptors.js';
import processOpenFileDescriptors from 'prom-client/lib/metrics/processOpenFileDescriptors.js';
import processRequests from 'prom-client/lib/metrics/processRequests.js';
import processResources from 'prom-client/lib/metrics/processResources.js';
import processStartTime from 'prom-client/lib/metrics/processStartTime.js';
import version from 'prom-client/lib/metrics/version.js';
import type { Registry } from 'prom-client';

/**
 * prom-client's default metrics (its `collectDefaultMetrics`: the same metrics, names, help
 * texts and order), each loaded from its own file, with the process CPU counters written
 * here. prom-client's own CPU metric file requires @opentelemetry/api at load time (51
 * modules, about 4 MB of an idle gateway's resident memory) for the trace ids of exemplars,
 * which a gateway never enables (README, "Footprint on a Pi-class box").
 */
export function collectDefaultMetrics(config: { readonly register: Registry; readonly prefix: string }): void {
  const c = { eventLoopMonitoringPrecision: 10, ...config };
  processCpuTotal(c.register, c.prefix);
  const metrics = [
    processStartTime,
    osMemoryHeap,
    processOpenFileDescriptors,
    processMaxFileDescriptors,
    eventLoopLag,
    ...(typeof (process as { getActiveResourcesInfo?: unknown }).getActiveResourcesInfo === 'function' ? [processResources] : []),
    processHandles,
    processRequests,
    heapSizeAndUsed,
    heapSpacesSizeAndUsed,
    version,
    gc,
  ];
  for (const metric of metrics) metric(c.register, c);
}

/** process_cpu_{user,system}_seconds_total and process_cpu_seconds_total, as prom-client's processCpuTotal without exemplars. */
function processCpuTotal(registry: Registry, prefix: string): void {
  let last = process.cpuUsage();
  // Registered first, as prom-client does: its collect sets all three.
  new Counter({
    name: `${prefix}process_cpu_user_seconds_total`,
    help: 'Total user CPU time spent in seconds.',
    registers: [registry],
    collect() {
      const now = process.cpuUsage();
      const user = now.user - last.user;
      const sys = now.system - last.system;
      last = now;
      this.inc(user / 1e6);
      system.inc(sys / 1e6);
      total.inc((user + sys) / 1e6);
    },
  });
  const system = new Counter({ name: `${prefix}process_cpu_system_seconds_total`, help: 'Total system CPU time spent in seconds.', registers: [registry] });
  const total = new Counter({ name: `${prefix}process_cpu_seconds_total`, help: 'Total user and system CPU time spent in seconds.', registers: [registry] });
}
