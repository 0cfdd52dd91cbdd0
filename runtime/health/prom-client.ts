import Counter from 'prom-client/lib/counter.js';
import Gauge from 'prom-client/lib/gauge.js';
import Registry from 'prom-client/lib/registry.js';

/**
 * The parts of prom-client the gateway uses, each loaded from its own file. The package's
 * index also loads its Pushgateway (and with it Node's http, https, tls and zlib modules),
 * Summary and cluster aggregator, none of which a gateway uses: about 1 MB of an idle
 * gateway's memory (README, Benchmarks). These are the very classes the index exports
 * (Node keeps one module per file), so a Registry from here and one from 'prom-client' mix.
 */
export { Counter, Gauge, Registry };
