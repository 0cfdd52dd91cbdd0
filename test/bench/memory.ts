import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { EmbeddedBroker } from '../../fleet/broker/embedded-broker.js';
import { testGatewayConfig } from '../support/gateway-config.js';
import { GatewayProcess } from '../support/gateway-process.js';
import { makeTempDir } from '../support/temp-dir.js';
import { waitFor } from '../support/wait-for.js';
import { finish, median, progress } from './report.js';

/**
 * `npm run bench -- memory [--rate HZ] [--plain-node]`: resident memory of a gateway started
 * as users start it (`bin/edgewise`; `--plain-node` for `node dist/cli/main.js` with V8's
 * defaults) with one synthetic source (10 Hz: idle; `--rate` for load), connected to a
 * broker, against a bare `node` process that only waits, measured in the same run. The value is the median RSS over the second half of a
 * 60 s settle (override with EDGEWISE_BENCH_SETTLE_MS). Unit: MB (10^6 bytes).
 */
const SETTLE_MS = Number(process.env['EDGEWISE_BENCH_SETTLE_MS'] ?? 60_000);

function rssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (m === null) throw new Error(`no VmRSS for ${pid}`);
  return Number(m[1]) * 1024;
}

export async function benchMemory(args: readonly string[]): Promise<void> {
  const rateHz = args.includes('--rate') ? Number(args[args.indexOf('--rate') + 1]) : 10;
  const viaBin = !args.includes('--plain-node');
  const tmp = await makeTempDir('edgewise-bench-');
  const broker = await EmbeddedBroker.create();
  let bare: ChildProcess | undefined;
  let gw: GatewayProcess | undefined;
  try {
    const configPath = `${tmp.path}/gw.yaml`;
    await writeFile(configPath, testGatewayConfig({ id: 'gw-idle', dataDir: `${tmp.path}/data`, url: broker.url, sources: [{ id: 'press-1', rateHz }], logLevel: 'info' }));
    let started = false;
    gw = GatewayProcess.start(
      configPath,
      (l) => {
        if (l.event === 'gateway.started') started = true;
      },
      viaBin,
    );
    bare = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
    await waitFor(() => started, 'the gateway to start');
    progress(`memory: a gateway (${viaBin ? 'bin/edgewise' : 'plain node'}, one synthetic source at ${rateHz} Hz) and a bare node process, ${SETTLE_MS / 1000} s`);
    const samples: number[] = [];
    for (let t = 0; t < SETTLE_MS; t += 1000) {
      await sleep(1000);
      samples.push(rssBytes(gw.child.pid as number));
      if (t % 10_000 === 9000) progress(`  ${(t + 1000) / 1000} s: gateway RSS ${(samples[samples.length - 1] as number / 1e6).toFixed(1)} MB`);
    }
    // The median of the second half: the gateway has settled (a first major GC happened).
    const gateway = median(samples.slice(Math.floor(samples.length / 2))) / 1e6;
    const baseline = rssBytes(bare.pid as number) / 1e6;
    progress(`gateway RSS ${gateway.toFixed(1)} MB (peak while settling ${(Math.max(...samples) / 1e6).toFixed(1)} MB), bare node ${baseline.toFixed(1)} MB`);
    finish('memory', gateway, baseline, 'MB');
  } finally {
    bare?.kill('SIGKILL');
    await gw?.kill('SIGTERM');
    await broker.close();
    await tmp.remove();
  }
}
