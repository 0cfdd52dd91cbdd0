import type { ModbusConfig } from './schema.js';

/*
 * Finding a point of a bus's config by slave and name, and why it cannot be written: what
 * `edgewise modbus write`, a source's writes and the config check of Sparkplug metrics with
 * `write: true` share. Apart from write.ts so that the config check (which every gateway
 * loads with the registry) does not load the encoders.
 */

/** A config path relative to the source's entry (`slaves[0].groups[1].points[2]`). */
export type EntryPath = readonly (string | number)[];

/** A write refused before anything was sent: unknown slave or point, a point without `write: true`, or a source not running. */
export class ModbusWriteRefusedError extends Error {
  constructor(
    readonly code: 'E_MODBUS_UNKNOWN_SLAVE' | 'E_MODBUS_UNKNOWN_POINT' | 'E_MODBUS_NOT_WRITABLE' | 'E_MODBUS_NOT_STARTED',
    message: string,
    /** Where in the source's entry the refusal points (the point, or its `write` key). */
    readonly path: EntryPath,
  ) {
    super(message);
    this.name = 'ModbusWriteRefusedError';
  }
}

type SlaveConfig = ModbusConfig['slaves'][number];
type PointConfig = SlaveConfig['groups'][number]['points'][number];

/** A point found in the config, with where it is. */
export interface PointRef {
  readonly unit: number;
  readonly slave: string;
  readonly point: PointConfig;
  readonly path: EntryPath;
}

/** A slave named by its name, or by its unit id (a number, or a string of digits). */
export function findSlave(config: Pick<ModbusConfig, 'slaves'>, slave: string | number): { slave: SlaveConfig; index: number } {
  const unit = typeof slave === 'number' ? slave : /^\d+$/.test(slave) ? Number(slave) : undefined;
  const index = config.slaves.findIndex((s) => (unit === undefined ? s.name === slave : s.unit === unit));
  const found = config.slaves[index];
  if (found === undefined) {
    const known = config.slaves.map((s) => `${s.name} (unit ${s.unit})`).join(', ');
    throw new ModbusWriteRefusedError('E_MODBUS_UNKNOWN_SLAVE', `no slave ${unit === undefined ? `named "${slave}"` : `with unit id ${unit}`} on this bus; it has ${known}`, ['slaves']);
  }
  return { slave: found, index };
}

/** A point of a slave by name, wherever its group. */
export function findPoint(config: Pick<ModbusConfig, 'slaves'>, slave: string | number, pointName: string): PointRef {
  const { slave: s, index } = findSlave(config, slave);
  for (const [g, group] of s.groups.entries()) {
    const p = group.points.findIndex((x) => x.name === pointName);
    const point = group.points[p];
    if (point !== undefined) return { unit: s.unit, slave: s.name, point, path: ['slaves', index, 'groups', g, 'points', p] };
  }
  const names = s.groups.flatMap((g) => g.points.map((p) => p.name));
  const shown = names.length > 20 ? `${names.slice(0, 20).join(', ')}, ...` : names.join(', ');
  throw new ModbusWriteRefusedError('E_MODBUS_UNKNOWN_POINT', `slave ${s.name} (unit ${s.unit}) has no point "${pointName}"; its points: ${shown}`, ['slaves', index, 'name']);
}

/**
 * A point by its name alone, as a Sparkplug metric names it (a key of the records' values):
 * on the slave `scope` names (its first dot-separated part; a Sparkplug device that is one
 * slave), else on the one slave of the bus that has it.
 */
export function findPointByName(config: Pick<ModbusConfig, 'slaves'>, name: string, scope: string | undefined): PointRef {
  const slave = scope?.split('.')[0];
  const slaves = config.slaves.filter((s) => (slave === undefined || s.name === slave) && s.groups.some((g) => g.points.some((p) => p.name === name)));
  if (slaves.length === 1) return findPoint(config, (slaves[0] as SlaveConfig).unit, name);
  const where = slaves.map((s) => `${s.name} (unit ${s.unit})`).join(', ');
  throw new ModbusWriteRefusedError(
    'E_MODBUS_UNKNOWN_POINT',
    slaves.length === 0 ? `no slave ${slave === undefined ? 'of this bus' : `named "${slave}"`} has a point "${name}"` : `point "${name}" is on several slaves (${where}): name it on one only to write it by name`,
    ['slaves'],
  );
}

/** Why a point found by name cannot be written by a Sparkplug host, or undefined (`--check`). */
export function notWritableByName(config: Pick<ModbusConfig, 'slaves'>, name: string, scope: string | undefined): string | undefined {
  try {
    const ref = findPointByName(config, name, scope);
    return ref.point.write === true ? undefined : `point ${name} of slave ${ref.slave} (unit ${ref.unit}) has no \`write: true\` in its Modbus config`;
  } catch (err) {
    if (err instanceof ModbusWriteRefusedError) return err.message;
    throw err;
  }
}

