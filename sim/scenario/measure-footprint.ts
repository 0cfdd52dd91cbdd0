import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pino } from 'pino';
import { EmbeddedBroker } from '../../fleet/broker/embedded-broker.js';
import { parseConfig } from '../../runtime/config/load.js';
import { Gateway } from '../../runtime/gateway.js';
import { builtinRegistry } from '../../runtime/plugins.js';
import { testGatewayConfig } from '../../test/support/gateway-config.js';
import { GatewayProcess } from '../../test/support/gateway-process.js';
import { McuProcess } from '../../test/support/mcu-process.js';
import { SOCAT_BIN } from '../../test/support/socat.js';
import { makeTempDir } from '../../test/support/temp-dir.js';
import { waitFor } from '../../test/support/wait-for.js';

/**
 * `node dist/sim/scenario/measure-footprint.js [--in-process N] [--rate HZ] [--seconds S] [--mcu N]`:
 * where capacity.ts's numbers come from. Measures, on this machine, (1) one gateway as a child
 * process (`bin/edgewise gateway`, one synthetic source at --rate): its RSS and CPU share over
 * the window; (2) N gateways in this process (`Gateway.create`, the same source): the RSS
 * and CPU they add, per gateway. Prints one JSON line. With `--mcu N` instead: N serial links
 * (socat pairs) each with a simulated MCU (`edgewise sim mcu`, a child process) at --rate and an
 * in-process gateway reading it: each part's RSS and CPU.
 */

const PAGE = 4096;
const TICK = 100; // clock ticks per second (CLK_TCK on Linux).

function rss(pid: number | 'self'): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m === null ? Number.NaN : Number(m[1]) * 1024;
}

function cpuSeconds(pid: number | 'self'): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return (Number(fields[11]) + Number(fields[12])) / TICK;
}

const arg = (name: string, fallback: number): number => (process.argv.includes(name) ? Number(process.argv[process.argv.indexOf(name) + 1]) : fallback);

async function window(seconds: number, pid: number | 'self'): Promise<{ rssBytes: number; cpuShare: number }> {
  const c0 = cpuSeconds(pid);
  const t0 = performance.now();
  const samples: number[] = [];
  while (performance.now() - t0 < seconds * 1000) {
    await new Promise((r) => setTimeout(r, 500));
    samples.push(rss(pid));
  }
  samples.sort((a, b) => a - b);
  return { rssBytes: samples[Math.floor(samples.length / 2)] ?? Number.NaN, cpuShare: (cpuSeconds(pid) - c0) / ((performance.now() - t0) / 1000) };
}

async function measureMcu(links: number, rateHz: number, seconds: number): Promise<void> {
  const dir = await makeTempDir('edgewise-footprint-');
  const broker = await EmbeddedBroker.create({ host: '127.0.0.1', port: 0 });
  const socats: ChildProcess[] = [];
  const mcus: McuProcess[] = [];
  const gateways: Gateway[] = [];
  try {
    const registry = builtinRegistry();
    const before = await window(3, 'self');
    for (let i = 0; i < links; i += 1) {
      const a = join(dir.path, `mcu-${i}`);
      const b = join(dir.path, `gw-${i}`);
      const socat = spawn(SOCAT_BIN, [`pty,raw,echo=0,link=${a}`, `pty,raw,echo=0,link=${b}`], { stdio: 'ignore' });
      socats.push(socat);
      await waitFor(() => existsSync(a) && existsSync(b), `socat links ${a} and ${b}`, 10_000);
      mcus.push(McuProcess.start(['--pty', a, '--rate', String(rateHz)]));
      const yaml = `
gateway: { id: gw-${i}, dataDir: ${JSON.stringify(join(dir.path, `data-${i}`))} }
devices:
  - { id: motor, type: serial-sensor, path: ${JSON.stringify(b)}, baudRate: 921600 }
store: { sync: false }
uplink: { url: ${JSON.stringify(broker.url)} }
log: { level: error }
`;
      const g = await Gateway.create(parseConfig(yaml, 'footprint', registry), registry, { logger: pino({ level: 'error' }) });
      await g.start();
      gateways.push(g);
    }
    await new Promise((r) => setTimeout(r, 5000));
    const pids = { socat: socats.map((c) => c.pid as number), mcu: mcus.map((m) => m.child.pid as number) };
    const c0 = { socat: pids.socat.map((pid) => cpuSeconds(pid)), mcu: pids.mcu.map((pid) => cpuSeconds(pid)) };
    const t0 = performance.now();
    const after = await window(seconds, 'self');
    const elapsed = (performance.now() - t0) / 1000;
    const share = (pid: number, start: number): number => (cpuSeconds(pid) - start) / elapsed;
    const mean = (xs: number[]): number => xs.reduce((n, x) => n + x, 0) / xs.length;
    process.stdout.write(
      `${JSON.stringify({
        links,
        rateHz,
        socat_rss_mb: +(mean(pids.socat.map((pid) => rss(pid))) / 1e6).toFixed(1),
        socat_cpu_share: +mean(pids.socat.map((pid, i) => share(pid, c0.socat[i] as number))).toFixed(4),
        mcu_process_rss_mb: +(mean(pids.mcu.map((pid) => rss(pid))) / 1e6).toFixed(1),
        mcu_process_cpu_share: +mean(pids.mcu.map((pid, i) => share(pid, c0.mcu[i] as number))).toFixed(4),
        in_process_serial_gateway_rss_mb_each: +((after.rssBytes - before.rssBytes) / links / 1e6).toFixed(2),
        in_process_serial_gateway_cpu_share_each: +((after.cpuShare - before.cpuShare) / links).toFixed(4),
      })}\n`,
    );
  } finally {
    for (const g of gateways) await g.stop();
    for (const m of mcus) await m.stop();
    for (const s of socats) s.kill('SIGKILL');
    await broker.close();
    await dir.remove();
  }
}

async function main(): Promise<void> {
  if (process.argv.includes('--mcu')) {
    await measureMcu(arg('--mcu', 4), arg('--rate', 200), arg('--seconds', 20));
    return;
  }
  const n = arg('--in-process', 50);
  const rateHz = arg('--rate', 10);
  const seconds = arg('--seconds', 20);
  const dir = await makeTempDir('edgewise-footprint-');
  const broker = await EmbeddedBroker.create({ host: '127.0.0.1', port: 0 });
  try {
    const configPath = join(dir.path, 'gw.yaml');
    await writeFile(configPath, testGatewayConfig({ id: 'proc-1', dataDir: join(dir.path, 'proc-1'), url: broker.url, sources: [{ id: 's', rateHz }] }));
    const gp = GatewayProcess.start(configPath, () => undefined, true);
    const pid = gp.child.pid as number;
    await waitFor(() => rss(pid) > 30e6, 'the gateway process to start', 30_000);
    await new Promise((r) => setTimeout(r, 5000)); // past the start's peak (README: about 91 MB before V8's first major GC)
    const proc = await window(seconds, pid);
    gp.child.kill('SIGTERM');
    await gp.exited;

    const registry = builtinRegistry();
    const before = await window(3, 'self');
    const gateways: Gateway[] = [];
    for (let i = 0; i < n; i += 1) {
      const config = parseConfig(testGatewayConfig({ id: `in-${i}`, dataDir: join(dir.path, `in-${i}`), url: broker.url, sources: [{ id: 's', rateHz }], sync: false }), 'footprint', registry);
      const g = await Gateway.create(config, registry, { logger: pino({ level: 'error' }) });
      await g.start();
      gateways.push(g);
    }
    await new Promise((r) => setTimeout(r, 5000));
    const after = await window(seconds, 'self');
    for (const g of gateways) await g.stop();
    process.stdout.write(
      `${JSON.stringify({
        rateHz,
        process_rss_mb: +(proc.rssBytes / 1e6).toFixed(1),
        process_cpu_share: +proc.cpuShare.toFixed(3),
        in_process_n: n,
        in_process_rss_mb_each: +((after.rssBytes - before.rssBytes) / n / 1e6).toFixed(2),
        in_process_cpu_share_each: +((after.cpuShare - before.cpuShare) / n).toFixed(4),
        page: PAGE,
      })}\n`,
    );
  } finally {
    await broker.close();
    await dir.remove();
  }
}

await main();
