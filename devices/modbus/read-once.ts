/**
 * One poll of every group of a modbus source's config, outside a gateway (`edgewise modbus
 * read`): the same read plan and decoding as the source, results returned instead of recorded.
 */
import { ModbusBus, type BusEndpoint, type BusOptions } from './bus.js';
import { blockValues, isBitTable, planReads } from './register-map.js';
import { toMapPoint, type ModbusConfig } from './schema.js';

export interface GroupReading {
  readonly unit: number;
  readonly slave: string;
  readonly group: string;
  /** Point name to its values (one per `count`), in config order; empty when the group failed. */
  readonly values: Readonly<Record<string, readonly number[]>>;
  readonly units: Readonly<Record<string, string>>;
  /** Why the group could not be read (its first failed request), or null. */
  readonly error: string | null;
}

/** The bus a source with this config polls on, as the source builds it (see ModbusSource.start). */
export function busOptionsOf(config: ModbusConfig, extra: Partial<BusOptions> = {}): BusOptions {
  let endpoint: BusEndpoint;
  if (config.rtu !== undefined) {
    const r = config.rtu;
    endpoint = { type: 'rtu', path: r.path, baudRate: r.baudRate ?? 19_200, parity: r.parity ?? 'even', stopBits: r.stopBits ?? 1, dataBits: 8 };
  } else if (config.tcp !== undefined) endpoint = { type: 'tcp', host: config.tcp.host, port: config.tcp.port ?? 502 };
  else throw new Error('a modbus source needs rtu or tcp (the config check refuses this)');
  return {
    endpoint,
    timeoutMs: config.timeoutMs ?? 300,
    retries: config.retries ?? 1,
    interFrameDelayMs: typeof config.interFrameDelayMs === 'number' ? config.interFrameDelayMs : undefined,
    reopen: { minMs: config.reopen?.minDelayMs ?? 500, maxMs: config.reopen?.maxDelayMs ?? 30_000 },
    ...extra,
  };
}

/** Reads every group of every slave once, one after another; a failed group does not stop the others. */
export async function readOnce(bus: ModbusBus, config: Pick<ModbusConfig, 'slaves' | 'maxGap'>): Promise<GroupReading[]> {
  const out: GroupReading[] = [];
  for (const slave of config.slaves) {
    for (const group of slave.groups) {
      const units: Record<string, string> = {};
      for (const p of group.points) units[p.name] = p.unit ?? '';
      const merged = new Map<string, number[]>();
      let error: string | null = null;
      try {
        for (const b of planReads(slave.unit, group.points.map(toMapPoint), { maxGap: group.maxGap ?? config.maxGap ?? 0 })) {
          const data = isBitTable(b.table) ? await bus.readBits(b.unit, b.table, b.address, b.count) : await bus.readRegisters(b.unit, b.table, b.address, b.count);
          for (const [k, v] of blockValues(b, data)) merged.set(k, v);
        }
      } catch (err) {
        error = (err as Error).message;
      }
      const values: Record<string, readonly number[]> = {};
      if (error === null) for (const p of group.points) values[p.name] = merged.get(p.name) ?? [];
      out.push({ unit: slave.unit, slave: slave.name, group: group.name, values, units, error });
    }
  }
  return out;
}
