import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { EmbeddedBroker } from '../fleet/broker/embedded-broker.js';
import { RecordSubscriber } from '../fleet/ingest/record-subscriber.js';
import { parseConfig } from '../runtime/config/load.js';
import { Gateway } from '../runtime/gateway.js';
import { builtinRegistry } from '../runtime/plugins.js';

export interface DemoOptions {
  readonly rate: string;
  readonly dataDir?: string;
  readonly duration?: string;
}

function demoConfig(dataDir: string, url: string, rateHz: number): string {
  return `
gateway:
  id: demo-gw
  dataDir: ${JSON.stringify(dataDir)}
devices:
  - id: press-1
    type: synthetic
    rateHz: ${rateHz}
    channels:
      - { name: vibration, unit: g, sine: { amplitude: 1, frequencyHz: 0.5 }, noise: { stddev: 0.05 } }
      - { name: temperature, unit: C, offset: 41, noise: { stddev: 0.2 }, steps: { everyMs: 10000, height: 3 } }
uplink:
  url: ${url}
  batchMaxRecords: 50
log:
  level: warn
`;
}

/**
 * `edgewise demo`: the whole data path on one machine, offline. An embedded broker on a
 * free loopback port, a gateway with one synthetic press, and a subscriber that prints each
 * record as the fleet would receive it.
 */
export async function runDemo(options: DemoOptions): Promise<number> {
  const rateHz = Number(options.rate);
  if (!(rateHz > 0 && rateHz <= 10_000)) {
    process.stderr.write(`edgewise demo: --rate: expected a number from 0 to 10000, got ${JSON.stringify(options.rate)}\n`);
    return 2;
  }
  const duration = options.duration === undefined ? undefined : Number(options.duration);
  if (duration !== undefined && !(duration > 0)) {
    process.stderr.write(`edgewise demo: --duration: expected seconds > 0, got ${JSON.stringify(options.duration)}\n`);
    return 2;
  }
  const tempDir = options.dataDir === undefined ? await mkdtemp(join(tmpdir(), 'edgewise-demo-')) : undefined;
  const dataDir = options.dataDir ?? join(tempDir as string, 'data');
  const broker = await EmbeddedBroker.create({ host: '127.0.0.1', port: 0 });
  const registry = builtinRegistry();
  const config = parseConfig(demoConfig(dataDir, broker.url, rateHz), 'demo config', registry);
  let received = 0;
  const subscriber = await RecordSubscriber.connect({
    url: broker.url,
    clientId: 'edgewise-demo-subscriber',
    persistentSession: false,
    onRecords: ({ gatewayId, records }) => {
      for (const r of records) {
        received += 1;
        const data = r.data as { n?: number; values?: Record<string, number[]> };
        const values = Object.entries(data.values ?? {})
          .map(([k, v]) => `${k}=${(v[0] ?? Number.NaN).toFixed(3)}`)
          .join(' ');
        process.stdout.write(`${new Date(r.ts).toISOString()}  ${gatewayId}  ${r.stream}  #${String(data.n)}  ${values}  (id ${r.id})\n`);
      }
    },
  });
  const gateway = await Gateway.create(config, registry, { logger: pino({ level: 'warn' }) });
  await gateway.start();
  process.stdout.write(`demo: broker ${broker.url}, gateway demo-gw storing in ${dataDir}; records follow (Ctrl-C to stop)\n`);

  await new Promise<void>((resolve) => {
    const timer = duration === undefined ? undefined : setTimeout(resolve, duration * 1000);
    const stop = (): void => {
      clearTimeout(timer);
      resolve();
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  await gateway.stop();
  await subscriber.close();
  await broker.close();
  if (tempDir !== undefined) await rm(tempDir, { recursive: true, force: true });
  process.stdout.write(`demo: stopped; ${received} records received\n`);
  return 0;
}
