/** A gateway config (YAML text) for tests: synthetic sources, a broker URL, fast retries. */
export interface TestGatewayOptions {
  readonly id: string;
  readonly dataDir: string;
  readonly url: string;
  readonly sources?: readonly { readonly id: string; readonly rateHz: number; readonly samplesPerRecord?: number }[];
  readonly maxSizeBytes?: number;
  readonly sync?: boolean;
  readonly logLevel?: 'debug' | 'info' | 'warn' | 'error';
  readonly healthListen?: string;
  readonly extra?: string;
}

export function testGatewayConfig(o: TestGatewayOptions): string {
  const devices = (o.sources ?? [])
    .map(
      (s) => `
  - id: ${s.id}
    type: synthetic
    rateHz: ${s.rateHz}
    samplesPerRecord: ${s.samplesPerRecord ?? 1}
    channels:
      - { name: x, unit: g, sine: { amplitude: 1, frequencyHz: 1 }, noise: { stddev: 0.1 } }
      - { name: t, unit: C, offset: 40 }`,
    )
    .join('');
  return `
gateway:
  id: ${o.id}
  dataDir: ${JSON.stringify(o.dataDir)}
  shutdownTimeoutMs: 5000
devices:${devices === '' ? ' []' : devices}
store:
  maxSizeBytes: ${o.maxSizeBytes ?? 1024 * 1024 * 1024}
  sync: ${o.sync ?? true}
uplink:
  url: ${o.url}
  connectTimeoutMs: 2000
  reconnect: { minDelayMs: 100, maxDelayMs: 1000 }
health:
  intervalMs: 1000${o.healthListen === undefined ? '' : `\n  listen: ${o.healthListen}`}
log:
  level: ${o.logLevel ?? 'warn'}
${o.extra ?? ''}`;
}
