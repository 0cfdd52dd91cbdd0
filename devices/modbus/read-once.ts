/**
 * One poll of every group of a modbus source's config, outside a gateway (`edgewise modbus
 * read`): the same read plan and decoding as the source, results returned instead of recorded.
 */
import type { ModbusBus } from './bus.js';
import { blockValues, isBitTable, planReads } from './register-map.js';
import { toMapPoint, type ModbusConfig } from './schema.js';

export { busOptionsOf } from './bus-options.js';

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
