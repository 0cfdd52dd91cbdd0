// Types for the prom-client files runtime/health/prom-client.ts imports one by one (the
// package declares types for its index only). Each file's module.exports is what the index
// re-exports under the same name.
declare module 'prom-client/lib/registry.js' {
  import { Registry } from 'prom-client';
  export = Registry;
}
declare module 'prom-client/lib/counter.js' {
  import { Counter } from 'prom-client';
  export = Counter;
}
declare module 'prom-client/lib/gauge.js' {
  import { Gauge } from 'prom-client';
  export = Gauge;
}
declare module 'prom-client/lib/defaultMetrics.js' {
  import { collectDefaultMetrics } from 'prom-client';
  export = collectDefaultMetrics;
}
declare module 'prom-client/lib/metrics/*.js' {
  import type { Registry } from 'prom-client';
  /** One of prom-client's default metrics (runtime/health/default-metrics.ts): registers it in the registry. */
  const metric: (registry: Registry, config: { readonly prefix?: string; readonly eventLoopMonitoringPrecision?: number }) => void;
  export = metric;
}
