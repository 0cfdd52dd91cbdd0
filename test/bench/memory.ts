import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { EmbeddedBroker } from '../../fleet/broker/embedded-broker.js';
import { testGatewayConfig } from '../support/gateway-config.js';
import { GatewayProcess } from '../support/gateway-process.js';
import { freePort } from '../support/ports.js';
import { makeTempDir } from '../support/temp-dir.js';
import { waitFor } from '../support/wait-for.js';
import { finish, median, progress } from './report.js';

/**
 * `npm run bench -- memory [--rate HZ] [--outage] [--plain-node] [--minutes N]`: resident memory of a
 * gateway started as users start it (`bin/edgewise`; `--plain-node` for `node
 * dist/cli/main.js` with V8's defaults) with one synthetic source (10 Hz: idle; `--rate` for
 * load), connected to a broker, against a bare `node` process that only waits, measured in
 * the same run. `--outage`: no broker the whole time (the uplink keeps reconnecting) and a
 * 1 MiB store at 200 records/s (unless `--rate`), so the outbox evicts the oldest records
 * continuously. The value is the median RSS over the second half of a 60 s settle (`--minutes
 * N` for a longer run, as a gateway runs for months: V8's heap and LevelDB's write buffer
 * keep growing for minutes; or EDGEWISE_BENCH_SETTLE_MS). Unit: MB (10^6 bytes).
 */
const DEFAULT_SETTLE_MS = Number(process.env['EDGEWISE_BENCH_SETTLE_MS'] ?? 60_000);
/** The outage case's store: small enough that 200 records/s fill it within seconds. */
const OUTAGE_STORE_BYTES = 1024 * 1024;
const OUTAGE_RATE_HZ = 200;

function rssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (m === null) throw new Error(`no VmRSS for ${pid}`);
  return Number(m[1]) * 1024;
}

export async function benchMemory(args: readonly string[]): Promise<void> {
  const outage = args.includes('--outage');
  const rateHz = args.includes('--rate') ? Number(args[args.indexOf('--rate') + 1]) : outage ? OUTAGE_RATE_HZ : 10;
  const viaBin = !args.includes('--plain-node');
  const SETTLE_MS = args.includes('--minutes') ? Number(args[args.indexOf('--minutes') + 1]) * 60_000 : DEFAULT_SETTLE_MS;
  if (!(SETTLE_MS >= 2000)) throw new Error('--minutes: expected a number of minutes, at least 0.05');
  const tmp = await makeTempDir('edgewise-bench-');
  // In an outage nothing listens on the uplink's port (freed right after it was found).
  const broker = outage ? undefined : await EmbeddedBroker.create();
  const url = broker?.url ?? `mqtt://127.0.0.1:${await freePort()}`;
  let evictions = 0;
  let bare: ChildProcess | undefined;
  let gw: GatewayProcess | undefined;
  try {
    const configPath = `${tmp.path}/gw.yaml`;
    await writeFile(
      configPath,
      testGatewayConfig({ id: 'gw-idle', dataDir: `${tmp.path}/data`, url, sources: [{ id: 'press-1', rateHz }], logLevel: 'info', ...(outage ? { maxSizeBytes: OUTAGE_STORE_BYTES } : {}) }),
    );
    let started = false;
    gw = GatewayProcess.start(
      configPath,
      (l) => {
        if (l.event === 'gateway.started') started = true;
        if (typeof l.event === 'string' && l.event.includes('evict')) evictions += 1;
      },
      viaBin,
    );
    bare = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
    await waitFor(() => started, 'the gateway to start');
    progress(`memory: a gateway (${viaBin ? 'bin/edgewise' : 'plain node'}, one synthetic source at ${rateHz} Hz${outage ? `, no broker, a ${OUTAGE_STORE_BYTES} B store` : ''}) and a bare node process, ${SETTLE_MS / 1000} s`);
    const samples: number[] = [];
    for (let t = 0; t < SETTLE_MS; t += 1000) {
      await sleep(1000);
      samples.push(rssBytes(gw.child.pid as number));
      if (t % (SETTLE_MS > 120_000 ? 60_000 : 10_000) === (SETTLE_MS > 120_000 ? 59_000 : 9000)) progress(`  ${(t + 1000) / 1000} s: gateway RSS ${(samples[samples.length - 1] as number / 1e6).toFixed(1)} MB`);
    }
    // The median of the second half: the gateway has settled (a first major GC happened).
    const gateway = median(samples.slice(Math.floor(samples.length / 2))) / 1e6;
    const baseline = rssBytes(bare.pid as number) / 1e6;
    const peak = Math.max(...samples) / 1e6;
    progress(`gateway RSS ${gateway.toFixed(1)} MB (peak while settling ${peak.toFixed(1)} MB), bare node ${baseline.toFixed(1)} MB${outage ? `, ${evictions} eviction log lines` : ''}`);
    finish('memory', gateway, baseline, 'MB', { rateHz, seconds: SETTLE_MS / 1000, peak: Math.round(peak * 10) / 10, ...(outage ? { outage: 'yes', evictionLines: evictions } : {}) });
  } finally {
    bare?.kill('SIGKILL');
    await gw?.kill('SIGTERM');
    await broker?.close();
    await tmp.remove();
  }
}
