import { pino } from 'pino';
import { decodeRecord } from '../../fleet/protocol/index.js';
import { parseConfig } from '../../runtime/config/load.js';
import { Gateway } from '../../runtime/gateway.js';
import { builtinRegistry } from '../../runtime/plugins.js';
import { McuProcess } from './mcu-process.js';
import { freePort } from './ports.js';
import { SocatPair } from './socat.js';
import { openOutbox, readAll } from './store.js';
import { makeTempDir } from './temp-dir.js';

/** A record of the serial-sensor source, as stored. */
export interface SampleRecord {
  boot: number;
  n: number;
  rateHz: number;
  values: Record<string, number[]>;
  units: Record<string, string>;
  tsErrorMs: number | null;
}

/**
 * A serial cable (socat pty pair), a simulated MCU on one end (`edgewise sim mcu`, a child
 * process) and a gateway with one serial-sensor source on the other (in this process, with
 * no broker: everything stays in the outbox).
 */
export class SerialRig {
  private constructor(
    readonly dir: { path: string; remove: () => Promise<void> },
    readonly socat: SocatPair,
    readonly mcu: McuProcess,
    readonly gateway: Gateway,
    readonly dataDir: string,
  ) {}

  static async start(options: { mcuArgs: readonly string[]; device?: string }): Promise<SerialRig> {
    const dir = await makeTempDir();
    const socat = new SocatPair(`${dir.path}/mcu-tty`, `${dir.path}/gw-tty`);
    let mcu: McuProcess | undefined;
    let gateway: Gateway | undefined;
    try {
      await socat.start();
      mcu = McuProcess.start(['--pty', socat.a, ...options.mcuArgs]);
      const registry = builtinRegistry();
      const dataDir = `${dir.path}/data`;
      // No broker, ever: a port nothing listens on (freePort keeps it below the ephemeral
      // range, so no other listener is handed it while the gateway retries).
      const config = parseConfig(
        `
gateway: { id: gw-serial, dataDir: ${JSON.stringify(dataDir)} }
devices:
  - { id: motor-1, type: serial-sensor, path: ${JSON.stringify(socat.b)}, baudRate: 921600${options.device === undefined ? '' : `, ${options.device}`} }
store: { maxSizeBytes: 1073741824 }
uplink: { url: "mqtt://127.0.0.1:${await freePort()}" }
log: { level: warn }
`,
        'test',
        registry,
      );
      gateway = await Gateway.create(config, registry, { logger: pino({ level: 'silent' }) });
      await gateway.start();
      return new SerialRig(dir, socat, mcu, gateway, dataDir);
    } catch (err) {
      // Whatever did start is stopped, in reverse order, and the temp dir goes: a failed start
      // must not leave an MCU process, a socat or an open LevelDB behind.
      await gateway?.stop().catch(() => undefined);
      await mcu?.stop().catch(() => undefined);
      await socat.kill().catch(() => undefined);
      await dir.remove();
      throw err;
    }
  }

  /** The serial source's counters from the health report. */
  serial(): Record<string, unknown> {
    return this.gateway.health().sources[0]?.details ?? {};
  }

  /** Stops the MCU and the gateway (the outbox stays); returns the MCU's last status. */
  async stopRun(): Promise<Awaited<ReturnType<McuProcess['stop']>>> {
    const final = await this.mcu.stop();
    await this.gateway.stop();
    return final;
  }

  /** Every stored record, in store order. */
  async records(): Promise<SampleRecord[]> {
    const o = await openOutbox(this.dataDir, { maxSizeBytes: 1 << 30, sync: false });
    const out = (await readAll(o.outbox, 1000)).map((r) => decodeRecord(r.value).data as SampleRecord);
    await o.close();
    return out;
  }

  /** Cleans up whatever is still running. */
  async close(): Promise<void> {
    await this.gateway.stop();
    await this.mcu.stop();
    await this.socat.kill();
    await this.dir.remove();
  }
}
