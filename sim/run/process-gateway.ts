import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { HealthReport } from '../../fleet/protocol/index.js';
import { GatewaySupervisor } from '../faults/gateway-supervisor.js';
import type { SimulatedMcu } from '../mcu/simulated-mcu.js';
import type { GatewayCounters, ResourceSample } from '../score/index.js';
import type { GatewayParts, SimGateway } from './sim-gateway.js';

/** How often the runner reads a process gateway's health report while it runs (its counters of the current life). */
const HEALTH_EVERY_MS = 1000;
/** A health read that takes longer is given up (the gateway is busy or going down): the last report stands. */
const HEALTH_TIMEOUT_MS = 2000;
/** Resource samples handed to the scorecard per gateway, at most (a long run is thinned evenly). */
const MAX_RESOURCE_SAMPLES = 300;

const sum = (r: Readonly<Record<string, number>>): number => Object.values(r).reduce((n, x) => n + x, 0);

/** The parts of a health report the runner reads, checked: a gateway of another version must not be scored on undefined. */
function readReport(body: unknown, url: string): HealthReport {
  const r = body as Partial<HealthReport> | null;
  const counts = (x: unknown): boolean => typeof x === 'object' && x !== null && Object.values(x).every((v) => typeof v === 'number');
  if (r === null || typeof r !== 'object' || r.store === undefined || !counts(r.store.appended) || !counts(r.store.evicted) || !counts(r.store.records) || !Array.isArray(r.pipelines)) {
    throw new Error(`${url}: not a gateway health report (store.appended, store.evicted, store.records, pipelines)`);
  }
  return r as HealthReport;
}

/**
 * A gateway of mode `process`: the config the in-process path builds, written to
 * `gateway.yaml` in its directory (logging at info, the health endpoint on a free port), run
 * as `bin/edgewise gateway --config FILE` under sim/faults' GatewaySupervisor. The MCU stays in
 * the runner's process, at the far end of the serial link. Its counters come from its health
 * endpoint, read every second and once more just before a kill -9: one report kept per life
 * (each start is a new store epoch with counters from 0), summed for the scorecard.
 */
export async function startProcessGateway(parts: GatewayParts, startMcu: (parts: GatewayParts) => { mcu: SimulatedMcu | null; mcuStartMs: number }): Promise<SimGateway> {
  const configPath = join(parts.base, 'gateway.yaml');
  await mkdir(parts.base, { recursive: true });
  await writeFile(configPath, `${parts.yaml(true)}\n`);
  const supervisor = new GatewaySupervisor({ id: parts.id, configPath });
  await supervisor.start();

  /** The last health report of each life (index: the life's start, from 0); null until its first read. */
  const lives: (HealthReport | null)[] = [null];
  let reading: Promise<HealthReport | undefined> | undefined;
  const readOnce = async (): Promise<HealthReport | undefined> => {
    const url = supervisor.healthUrl;
    const life = supervisor.counters.starts - 1;
    if (url === null || supervisor.state !== 'running') return undefined;
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(HEALTH_TIMEOUT_MS) });
      // 503 is a degraded gateway: its report is in the body all the same.
      const report = readReport(await res.json(), url);
      if (supervisor.counters.starts - 1 === life) lives[life] = report;
      return report;
    } catch {
      return undefined; // down or busy: the last report of this life stands
    }
  };
  /** One read at a time: the poller and the runner share it. */
  const readHealth = (): Promise<HealthReport | undefined> => {
    reading ??= readOnce().finally(() => (reading = undefined));
    return reading;
  };
  const poller = setInterval(() => void readHealth(), HEALTH_EVERY_MS);
  poller.unref();

  let mcu: SimulatedMcu | null = null;
  try {
    const started = startMcu(parts);
    mcu = started.mcu;
    const stop = async (): Promise<void> => {
      clearInterval(poller);
      await mcu?.stop().catch(() => undefined);
      await supervisor.stop().catch(() => undefined);
      await parts.camera?.stop().catch(() => undefined);
      await parts.cable?.close().catch(() => undefined);
      await parts.proxy.close().catch(() => undefined);
    };
    return {
      id: parts.id,
      group: parts.group,
      mcu,
      cable: parts.cable,
      proxy: parts.proxy,
      camera: parts.camera,
      mcuStartMs: started.mcuStartMs,
      process: {
        kill9: async () => {
          await readHealth();
          await supervisor.kill9();
        },
        restart: async () => {
          await supervisor.restart();
          while (lives.length < supervisor.counters.starts) lives.push(null);
        },
      },
      stopSources: () => Promise.resolve(),
      pendingRecords: async () => {
        const r = await readHealth();
        if (r === undefined) return null;
        return r.pipelines.reduce((n, p) => n + p.edges.reduce((m, e) => m + e.depthRecords, 0), 0) + sum(r.store.records);
      },
      counters: async (): Promise<GatewayCounters> => {
        await readHealth();
        const known = lives.filter((r): r is HealthReport => r !== null);
        const last = lives[lives.length - 1] ?? null;
        return {
          // A life killed before its first report undercounts: its holes show as lost (sim/score's README).
          appended: known.length === 0 ? null : known.reduce((n, r) => n + sum(r.store.appended), 0),
          evicted: known.reduce((n, r) => n + sum(r.store.evicted), 0),
          pendingAtEnd: last === null ? 0 : sum(last.store.records),
        };
      },
      resources: (): readonly ResourceSample[] => {
        const all = supervisor.resources().samples;
        const step = Math.ceil(all.length / MAX_RESOURCE_SAMPLES);
        return all.filter((_, i) => i % step === 0).map((s) => ({ tMs: Math.round(performance.timeOrigin + s.atMs), rssBytes: s.rssBytes, cpuPercent: s.cpuPercent }));
      },
      stop,
    };
  } catch (err) {
    clearInterval(poller);
    await mcu?.stop().catch(() => undefined);
    await supervisor.stop().catch(() => undefined);
    throw err;
  }
}
