import { existsSync, statfsSync } from 'node:fs';
import { availableParallelism, freemem, tmpdir } from 'node:os';
import { dirname, resolve } from 'node:path';
import type { GatewayGroup, Scenario } from './types.js';
import { formatSize } from './units.js';

/**
 * Will the scenario fit on this machine? An estimate of the memory, CPU and disk the run
 * needs, from what one gateway costs here, checked before anything starts: a plant that
 * cannot run in real time would make every latency and every detection delay in the
 * scorecard a measure of the machine, not of edgewise.
 *
 * Where the numbers come from (2-core x64 box, 2026-11-30, `node
 * dist/sim/scenario/measure-footprint.js`, one synthetic source of 2 channels per gateway,
 * health every second, a broker in the measuring process; median RSS over 20 s after a 5 s settle):
 * - a gateway process (`bin/edgewise gateway`): 64.1 MB RSS and 2.7% of a core at 10 Hz; 69.3 MB
 *   and 9.7% at 200 Hz (README's memory bench: 65.5 MB idle, 67.7 over 10 minutes). A gateway
 *   that loads ONNX Runtime (camera, learned anomaly model) is 115 to 120 MB (README).
 * - in-process (`Gateway.create` in the simulator; 50 at 10 Hz, 20 at 200 Hz): 1.4 MB and 0.43%
 *   of a core each at 10 Hz; 4.0 MB and 1.7% at 200 Hz (LevelDB buffers and the in-flight
 *   batches grow with the rate). Their CPU includes the broker's share. At 1 Hz (`edgewise sim`
 *   of 300 against 50 synthetic gateways of 4 channels, 60 s each, the whole process tree: 0.58
 *   and 0.24 cores) 0.14% each: the CPU is taken as the line through 1 and 10 Hz (0.103% plus
 *   0.0327% a Hz), which overstates 200 Hz (6.6% for the 1.7% measured): on the safe side where
 *   few gateways run, close where a plant's hundreds do. With the older constant (0.37% plus
 *   0.0066% a Hz) plant.yaml was refused past ~210 cells; 422 gateways kept real time
 *   (README, `npm run bench -- sim`).
 * - a sensor MCU (`--mcu 4 --rate 200`: 4 socat pairs, 4 `edgewise sim mcu` child processes, 4
 *   in-process gateways with a serial-sensor source): socat 4.7 MB and 0.22% of a core; the MCU
 *   3.5% of a core (70 MB as a child process of its own; the estimate assumes the runner keeps
 *   SimulatedMcu in its own process, about 2 MB each); the gateway reading it 6.4 MB and 3.5%
 *   of a core at 200 Hz, about 0.0094% of a core per Hz more than a synthetic source's.
 * - a camera: the simulator renders a 320x240 conveyor frame in 0.93 ms and encodes it in 1.02 ms
 *   CPU (640x480: 1.83 and 2.74 ms); the gateway's whole camera-to-vision path runs 603 frames/s
 *   of 1280x720 on 2 cores (README's vision bench, at most 3.3 ms a frame). Taken together as 5 ms
 *   a frame plus 30 ns a pixel.
 * - the fleet service: PGlite about 200 MB (README, fleet ingest bench) plus its heap, which grows
 *   with the gateways' in-flight load; taken as 250 MB + 0.25 MB a gateway and 10% of a core plus
 *   0.05% a gateway (health and ingest).
 * - disk: each store holds at most its budget, and holds nothing once the fleet has the records;
 *   the estimate is what a gateway would write if nothing were delivered (300 bytes a record on
 *   disk), capped by its budget, plus 2 MiB of LevelDB files each.
 */

export interface Machine {
  readonly cpus: number;
  /** Memory that can be used without swapping (Linux: MemAvailable). */
  readonly memoryBytes: number;
  /** Free space where the run writes its data. */
  readonly freeDiskBytes: number;
}

export const FOOTPRINT = {
  process: { rssBytes: 65e6, onnxExtraBytes: 55e6, cpuBase: 0.024, cpuPerHz: 0.00037 },
  inProcess: { rssBytes: 1.4e6, rssPerHz: 0.0138e6, onnxOnceBytes: 55e6, cpuBase: 0.00103, cpuPerHz: 0.000327 },
  /** One simulated MCU and its cable: socat, SimulatedMcu, and what reading it adds to the gateway over a synthetic source. */
  mcu: { socatRssBytes: 4.7e6, socatCpuPerHz: 0.000011, simRssBytes: 2e6, simCpuPerHz: 0.000173, gatewayRssBytes: 2.2e6, gatewayCpuPerHz: 0.000094 },
  camera: { cpuSecondsPerFrame: 0.005, cpuSecondsPerPixel: 30e-9 },
  fleet: { rssBytes: 250e6, rssPerGateway: 0.25e6, cpu: 0.1, cpuPerGateway: 0.0005 },
  simulator: { rssBytes: 60e6 },
  disk: { bytesPerRecord: 300, levelDbBytes: 2 * 2 ** 20, fleetBytes: 200e6 },
} as const;

/** Shares of the machine a run may plan to use: the rest is for the OS, the scorecard's bursts and whatever else runs here. */
export const HEADROOM = { cpu: 0.85, memory: 0.8, disk: 0.9 } as const;

export interface Needs {
  readonly cpus: number;
  readonly memoryBytes: number;
  readonly diskBytes: number;
  /** Per group, what it adds (for the message). */
  readonly groups: readonly { readonly group: string; readonly count: number; readonly cpus: number; readonly memoryBytes: number }[];
}

/** Records (or frames) a gateway of the group makes per second. */
function ratesOf(g: GatewayGroup): { hz: number; fps: number; pixels: number } {
  const hz = (g.mcu?.rateHz ?? 0) + (g.synthetic?.rateHz ?? 0);
  return { hz, fps: g.camera?.fps ?? 0, pixels: g.camera === null ? 0 : g.camera.width * g.camera.height };
}

export function estimateNeeds(s: Scenario): Needs {
  const f = FOOTPRINT;
  let onnxInProcess = false;
  const groups = s.gateways.map((g) => {
    const { hz, fps, pixels } = ratesOf(g);
    const usesOnnx = g.camera !== null;
    const cameraCpu = fps * (f.camera.cpuSecondsPerFrame + pixels * f.camera.cpuSecondsPerPixel);
    const mcuHz = g.mcu?.rateHz ?? 0;
    const mcuCpu = mcuHz * (f.mcu.socatCpuPerHz + f.mcu.simCpuPerHz + f.mcu.gatewayCpuPerHz);
    let cpus: number;
    let memory: number;
    if (g.mode === 'process') {
      cpus = f.process.cpuBase + hz * f.process.cpuPerHz;
      memory = f.process.rssBytes + (usesOnnx ? f.process.onnxExtraBytes : 0);
    } else {
      cpus = f.inProcess.cpuBase + hz * f.inProcess.cpuPerHz;
      memory = f.inProcess.rssBytes + hz * f.inProcess.rssPerHz;
      onnxInProcess ||= usesOnnx;
    }
    cpus += cameraCpu + mcuCpu;
    if (g.mcu !== null) memory += f.mcu.socatRssBytes + f.mcu.simRssBytes + f.mcu.gatewayRssBytes;
    return { group: g.group, count: g.count, cpus: cpus * g.count, memoryBytes: memory * g.count };
  });
  const gateways = s.gateways.reduce((n, g) => n + g.count, 0);
  const cpus = groups.reduce((n, x) => n + x.cpus, 0) + f.fleet.cpu + gateways * f.fleet.cpuPerGateway;
  const memoryBytes =
    groups.reduce((n, x) => n + x.memoryBytes, 0) + f.fleet.rssBytes + gateways * f.fleet.rssPerGateway + f.simulator.rssBytes + (onnxInProcess ? f.inProcess.onnxOnceBytes : 0);
  const seconds = s.durationMs / 1000;
  const diskBytes =
    f.disk.fleetBytes +
    s.gateways.reduce((n, g) => {
      const written = ratesOf(g).hz * seconds * f.disk.bytesPerRecord;
      return n + g.count * (Math.min(written, g.storeBudgetBytes) + f.disk.levelDbBytes);
    }, 0);
  return { cpus, memoryBytes, diskBytes, groups };
}

/** This machine: logical CPUs, available memory, free space under `dataDir` (the system's temporary directory by default). */
export function thisMachine(dataDir: string = tmpdir()): Machine {
  // The directory may not exist yet: its filesystem is its nearest existing parent's.
  let dir = resolve(dataDir);
  while (!existsSync(dir) && dirname(dir) !== dir) dir = dirname(dir);
  const st = statfsSync(dir);
  return { cpus: availableParallelism(), memoryBytes: freemem(), freeDiskBytes: st.bavail * st.bsize };
}

/** A scenario this machine cannot hold, said before anything starts. */
export class CapacityError extends Error {
  readonly code = 'E_SCENARIO_CAPACITY';
  override readonly name = 'CapacityError';
  constructor(
    message: string,
    readonly needs: Needs,
    readonly machine: Machine,
  ) {
    super(message);
  }
}

/**
 * Throws CapacityError when the scenario needs more CPU, memory or disk than this machine
 * has (within HEADROOM); returns the estimate otherwise. The message says what it needs,
 * what the machine has, and which groups cost the most.
 */
export function capacityCheck(s: Scenario, machine: Machine = thisMachine(s.fleet.dataDir ?? tmpdir())): Needs {
  const needs = estimateNeeds(s);
  const short: string[] = [];
  if (needs.cpus > machine.cpus * HEADROOM.cpu) {
    short.push(`CPU: needs about ${needs.cpus.toFixed(2)} cores to run in real time, this machine has ${machine.cpus} (${Math.round(HEADROOM.cpu * 100)}% of them usable: ${(machine.cpus * HEADROOM.cpu).toFixed(2)})`);
  }
  if (needs.memoryBytes > machine.memoryBytes * HEADROOM.memory) {
    short.push(`memory: needs about ${formatSize(needs.memoryBytes)}, this machine has ${formatSize(machine.memoryBytes)} available (${Math.round(HEADROOM.memory * 100)}% usable: ${formatSize(machine.memoryBytes * HEADROOM.memory)})`);
  }
  if (needs.diskBytes > machine.freeDiskBytes * HEADROOM.disk) {
    short.push(`disk: needs up to ${formatSize(needs.diskBytes)}, ${formatSize(machine.freeDiskBytes)} free`);
  }
  if (short.length === 0) return needs;
  const top = [...needs.groups]
    .sort((a, b) => b.cpus / machine.cpus + b.memoryBytes / machine.memoryBytes - (a.cpus / machine.cpus + a.memoryBytes / machine.memoryBytes))
    .slice(0, 3)
    .map((g) => `${g.group} (${g.count}): ${g.cpus.toFixed(2)} cores, ${formatSize(g.memoryBytes)}`);
  const message =
    `scenario ${s.name} is more than this machine can hold:\n  ${short.join('\n  ')}\n` +
    `  most of it: ${top.join('; ')}\n` +
    '  fewer gateways, lower rates, or `in-process` instead of `process` gateways (about 1.4 MB each instead of 65 MB) make it fit';
  throw new CapacityError(message, needs, machine);
}
