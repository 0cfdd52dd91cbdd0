/**
 * Plans a polling group's points into as few read requests as the protocol allows, and maps each
 * request's answer back to point values. Pure: no I/O.
 *
 * One request reads one table of one slave: at most 125 registers (function codes 3 and 4: the
 * 256-byte RTU frame leaves 250 data bytes) or 2000 bits (function codes 1 and 2). Points
 * close together share a request; a gap of unused addresses between them is read too when it
 * is at most `maxGap` long (a gap may hold addresses the device does not have, which it
 * answers with exception 2, so the default is 0: only adjacent points merge). A point is never
 * split across two requests: its words are decoded together.
 */
import { applyScaling, bitValue, decodeRaw, registersOf, type NumericType, type Scaling, type WordOrder } from './decode.js';

export const TABLES = ['holding', 'input', 'coil', 'discrete'] as const;
export type Table = (typeof TABLES)[number];

/** Registers per read request (FC 3/4), from the spec. */
export const MAX_READ_REGISTERS = 125;
/** Bits per read request (FC 1/2), from the spec. */
export const MAX_READ_BITS = 2000;

export function isBitTable(table: Table): table is 'coil' | 'discrete' {
  return table === 'coil' || table === 'discrete';
}

/** A point as the planner needs it: where it is and how to read it. */
export interface MapPoint {
  readonly name: string;
  readonly table: Table;
  /** Zero-based protocol address (register 40001 in a vendor's manual is address 0 of `holding`). */
  readonly address: number;
  /** Ignored for bit tables. */
  readonly type: NumericType;
  readonly order: WordOrder;
  /** Consecutive values of `type` (or bits) the point reads; its value is a list of that many numbers. */
  readonly count: number;
  readonly scaling: Scaling;
}

/** How many addresses of its table a point spans (registers, or bits). */
export function pointLength(p: Pick<MapPoint, 'table' | 'type' | 'count'>): number {
  return isBitTable(p.table) ? p.count : registersOf(p.type) * p.count;
}

/** The most addresses one request of `table` may read. */
export function readLimit(table: Table): number {
  return isBitTable(table) ? MAX_READ_BITS : MAX_READ_REGISTERS;
}

/** One read request: `count` addresses of `table` from `address`, and the points inside it. */
export interface ReadBlock {
  readonly unit: number;
  readonly table: Table;
  readonly address: number;
  readonly count: number;
  /** Each point with its position inside the block (address - block.address), in address order. */
  readonly points: readonly { readonly point: MapPoint; readonly at: number }[];
}

export interface PlanOptions {
  /** Unused addresses between two points that may still be read in one request (default 0). */
  readonly maxGap?: number;
}

/**
 * The read requests for a group of one slave: per table (holding, input, coil, discrete in that
 * order), points sorted by address are taken greedily into a block while the next one starts
 * within `maxGap` of the block's end and the block stays within the request limit. Points may
 * overlap (two readings of the same registers); each is placed whole in exactly one block.
 * Throws RangeError for a point longer than a request can carry or past address 65535 (the
 * config check refuses those first).
 */
export function planReads(unit: number, points: readonly MapPoint[], options: PlanOptions = {}): ReadBlock[] {
  const maxGap = options.maxGap ?? 0;
  if (!Number.isInteger(maxGap) || maxGap < 0) throw new RangeError(`maxGap must be a whole number >= 0, got ${maxGap}`);
  const blocks: ReadBlock[] = [];
  for (const table of TABLES) {
    const limit = readLimit(table);
    const mine = points
      .filter((p) => p.table === table)
      .map((p) => ({ p, start: p.address, end: p.address + pointLength(p) }))
      .sort((a, b) => a.start - b.start || b.end - a.end);
    let open: { start: number; end: number; members: { p: MapPoint; start: number }[] } | undefined;
    const close = (): void => {
      if (open === undefined) return;
      const start = open.start;
      blocks.push({ unit, table, address: start, count: open.end - start, points: open.members.map((m) => ({ point: m.p, at: m.start - start })) });
      open = undefined;
    };
    for (const m of mine) {
      const len = m.end - m.start;
      if (!Number.isInteger(m.start) || m.start < 0 || m.end > 0x10000) throw new RangeError(`point ${m.p.name}: addresses ${m.start}..${m.end - 1} are outside 0..65535`);
      if (len < 1 || len > limit) throw new RangeError(`point ${m.p.name}: ${len} ${isBitTable(table) ? 'bits' : 'registers'} do not fit one request (1..${limit})`);
      if (open !== undefined && m.start - open.end <= maxGap && Math.max(open.end, m.end) - open.start <= limit) {
        open.end = Math.max(open.end, m.end);
        open.members.push({ p: m.p, start: m.start });
      } else {
        close();
        open = { start: m.start, end: m.end, members: [{ p: m.p, start: m.start }] };
      }
    }
    close();
  }
  return blocks;
}

/**
 * Each point's values from a block's answer: `data` is what the read returned, registers
 * (numbers) for holding/input, bits for coil/discrete; it may be longer than the block (coils
 * come padded to whole bytes) but not shorter. Values are scaled; bits are 1 or 0. Throws
 * RangeError on a short or wrongly typed answer (a device bug, not a config error).
 */
export function blockValues(block: ReadBlock, data: readonly number[] | readonly boolean[]): Map<string, number[]> {
  if (data.length < block.count) throw new RangeError(`read of ${block.count} at ${block.table} ${block.address} (unit ${block.unit}) answered ${data.length}`);
  const bits = isBitTable(block.table);
  if (block.count > 0 && (typeof data[0] === 'boolean') !== bits) throw new RangeError(`read of ${block.table} ${block.address} (unit ${block.unit}) answered ${typeof data[0]}s, expected ${bits ? 'bits' : 'registers'}`);
  const out = new Map<string, number[]>();
  for (const { point, at } of block.points) {
    const values = new Array<number>(point.count);
    if (bits) {
      for (let i = 0; i < point.count; i += 1) values[i] = bitValue(data[at + i] === true);
    } else {
      const words = data as readonly number[];
      const n = registersOf(point.type);
      for (let i = 0; i < point.count; i += 1) values[i] = applyScaling(decodeRaw(words, point.type, point.order, at + i * n), point.scaling);
    }
    out.set(point.name, values);
  }
  return out;
}
