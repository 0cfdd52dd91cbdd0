import { createInterface } from 'node:readline';
import { FAULT_KINDS, type FaultKind } from './signals.js';
import { SIM_MCU_HELP } from './help.js';
import { SimulatedMcu } from './simulated-mcu.js';

export interface SimMcuCommandOptions {
  readonly pty: string;
  readonly rate: string;
  readonly deviceId: string;
  readonly seed: string;
  readonly baud: string;
  readonly samplesPerFrame?: string;
  readonly bufferSeconds: string;
  readonly noise: string;
  readonly dropFrames: string;
  readonly clockErrorPpm: string;
  readonly fault: string[];
  readonly statusEvery: string;
}

function number(name: string, value: string, min: number, max: number): number {
  const n = Number(value);
  if (!(n >= min && n <= max)) {
    process.stderr.write(`edgewise sim mcu: ${name}: expected a number from ${min} to ${max}, got ${JSON.stringify(value)}\n`);
    process.exit(2);
  }
  return n;
}

/**
 * `edgewise sim mcu --pty PATH`: a simulated sensor MCU on a serial device, alone, so a person
 * (or a test) can point a gateway at it. Prints one JSON status line every few seconds and
 * takes commands on stdin.
 */
export async function runSimMcu(o: SimMcuCommandOptions): Promise<number> {
  const faults = o.fault.map((f) => {
    if (!(FAULT_KINDS as readonly string[]).includes(f)) {
      process.stderr.write(`edgewise sim mcu: --fault: expected one of ${FAULT_KINDS.join(', ')}, got ${JSON.stringify(f)}\n`);
      process.exit(2);
    }
    return f as FaultKind;
  });
  const rateHz = number('--rate', o.rate, 0.001, 100_000);
  const mcu = new SimulatedMcu({
    path: o.pty,
    baudRate: number('--baud', o.baud, 300, 12_000_000),
    deviceId: o.deviceId,
    rateHz,
    seed: number('--seed', o.seed, 0, 2 ** 32 - 1),
    ...(o.samplesPerFrame === undefined ? {} : { samplesPerFrame: number('--samples-per-frame', o.samplesPerFrame, 1, 1000) }),
    bufferSamples: Math.ceil(rateHz * number('--buffer-seconds', o.bufferSeconds, 1, 86_400)),
    noiseBytesPerSecond: number('--noise', o.noise, 0, 1_000_000),
    dropFrameProbability: number('--drop-frames', o.dropFrames, 0, 1),
    clockErrorPpm: number('--clock-error-ppm', o.clockErrorPpm, -1000, 1000),
  });
  mcu.start();
  for (const f of faults) mcu.setFault(f, true);
  const status = (): void => {
    const l = mcu.linkCounters;
    process.stdout.write(
      `${JSON.stringify({ event: 'mcu.status', ...mcu.counters, portOpen: mcu.portCounters.opens - mcu.portCounters.closes > 0, crcErrors: l.crcErrors, retransmits: l.retransmits, resyncs: l.resyncs, flashed: mcu.flashedImages.length, faults: mcu.faultLog })}\n`,
    );
  };
  const every = number('--status-every', o.statusEvery, 0.1, 3600);
  const timer = setInterval(status, every * 1000);
  process.stdout.write(`${JSON.stringify({ event: 'mcu.started', pty: o.pty, rateHz, bootId: mcu.counters.bootId })}\n`);

  const rl = createInterface({ input: process.stdin });
  rl.on('line', (line) => {
    const [cmd, a, b] = line.trim().split(/\s+/);
    switch (cmd) {
      case 'reboot':
        mcu.reboot();
        break;
      case 'fault':
        if ((FAULT_KINDS as readonly string[]).includes(a ?? '') && (b === 'on' || b === 'off')) mcu.setFault(a as FaultKind, b === 'on');
        else process.stderr.write(`fault: expected "fault <${FAULT_KINDS.join('|')}> on|off"\n`);
        break;
      case 'noise':
        mcu.setNoise(Number(a) || 0);
        break;
      case 'drop':
        mcu.setDropFrameProbability(Math.min(1, Math.max(0, Number(a) || 0)));
        break;
      case 'lose-commits':
        mcu.loseCommitsFor((Number(a) || 0) * 1000);
        break;
      case 'corrupt-chunks':
        mcu.corruptReceivedChunks(Number(a) || 0);
        break;
      case 'status':
        status();
        break;
      case '':
      case undefined:
        break;
      default:
        process.stderr.write(SIM_MCU_HELP);
    }
  });

  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  clearInterval(timer);
  rl.close();
  status();
  await mcu.stop();
  return 0;
}

