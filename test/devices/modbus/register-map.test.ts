import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { NUMERIC_TYPES, WORD_ORDERS, decodeRaw, encodeRaw } from '../../../devices/modbus/decode.js';
import { MAX_READ_BITS, MAX_READ_REGISTERS, TABLES, blockValues, isBitTable, planReads, pointLength, readLimit, type MapPoint, type ReadBlock, type Table } from '../../../devices/modbus/register-map.js';

const point = (name: string, table: Table, address: number, extra: Partial<MapPoint> = {}): MapPoint => ({
  name,
  table,
  address,
  type: 'uint16',
  order: 'ABCD',
  count: 1,
  scaling: { scale: 1, offset: 0 },
  ...extra,
});

/** Points of a group: addresses crowded into a small range so that they touch, overlap and leave gaps. */
const pointsArb = fc
  .array(
    fc.record({
      table: fc.constantFrom(...TABLES),
      address: fc.integer({ min: 0, max: 600 }),
      type: fc.constantFrom(...NUMERIC_TYPES),
      order: fc.constantFrom(...WORD_ORDERS),
      registerCount: fc.integer({ min: 1, max: 8 }),
      bitCount: fc.integer({ min: 1, max: 300 }),
      scale: fc.constantFrom(1, 0.1, -2),
      offset: fc.constantFrom(0, 5),
    }),
    { maxLength: 60 },
  )
  .map((rs) =>
    rs.map(
      (r, i): MapPoint => ({
        name: `p${i}`,
        table: r.table,
        address: r.address,
        type: r.type,
        order: r.order,
        count: isBitTable(r.table) ? r.bitCount : r.registerCount,
        scaling: isBitTable(r.table) ? { scale: 1, offset: 0 } : { scale: r.scale, offset: r.offset },
      }),
    ),
  );

const gapArb = fc.integer({ min: 0, max: 30 });

function blocksOf(blocks: readonly ReadBlock[], name: string): ReadBlock[] {
  return blocks.filter((b) => b.points.some((p) => p.point.name === name));
}

describe('read planning (register-map.ts)', () => {
  it('puts every point whole in exactly one block of its own table, at its offset (property)', () => {
    fc.assert(
      fc.property(pointsArb, gapArb, (points, maxGap) => {
        const blocks = planReads(7, points, { maxGap });
        for (const p of points) {
          const mine = blocksOf(blocks, p.name);
          expect(mine).toHaveLength(1);
          const b = mine[0] as ReadBlock;
          const placed = b.points.filter((q) => q.point.name === p.name);
          expect(placed).toHaveLength(1);
          expect(b.table).toBe(p.table);
          expect(placed[0]?.at).toBe(p.address - b.address);
          expect(p.address).toBeGreaterThanOrEqual(b.address);
          expect(p.address + pointLength(p)).toBeLessThanOrEqual(b.address + b.count);
        }
        expect(blocks.reduce((n, b) => n + b.points.length, 0)).toBe(points.length);
      }),
      { numRuns: 200 },
    );
  });

  it('keeps every block within the request limit (125 registers, 2000 bits), starting and ending on a point (property)', () => {
    fc.assert(
      fc.property(pointsArb, gapArb, (points, maxGap) => {
        for (const b of planReads(1, points, { maxGap })) {
          expect(b.unit).toBe(1);
          expect(b.count).toBeGreaterThanOrEqual(1);
          expect(b.count).toBeLessThanOrEqual(readLimit(b.table));
          expect(b.address + b.count).toBeLessThanOrEqual(0x10000);
          expect(Math.min(...b.points.map((p) => p.at))).toBe(0);
          expect(Math.max(...b.points.map((p) => p.at + pointLength(p.point)))).toBe(b.count);
        }
      }),
      { numRuns: 200 },
    );
  });

  it('reads no unused run longer than maxGap, and starts a new block only when merging would break the gap or the limit (property)', () => {
    fc.assert(
      fc.property(pointsArb, gapArb, (points, maxGap) => {
        const blocks = planReads(1, points, { maxGap });
        for (const b of blocks) {
          const used = new Array<boolean>(b.count).fill(false);
          for (const { point, at } of b.points) for (let i = 0; i < pointLength(point); i += 1) used[at + i] = true;
          let run = 0;
          let longest = 0;
          for (const u of used) {
            run = u ? 0 : run + 1;
            longest = Math.max(longest, run);
          }
          expect(longest).toBeLessThanOrEqual(maxGap);
        }
        for (const table of TABLES) {
          const mine = blocks.filter((b) => b.table === table);
          for (let i = 1; i < mine.length; i += 1) {
            const prev = mine[i - 1] as ReadBlock;
            const next = mine[i] as ReadBlock;
            const firstEnd = next.address + Math.max(...next.points.filter((p) => p.at === 0).map((p) => pointLength(p.point)));
            const gap = next.address - (prev.address + prev.count);
            const merged = Math.max(prev.address + prev.count, firstEnd) - prev.address;
            expect(gap > maxGap || merged > readLimit(table)).toBe(true);
          }
        }
      }),
      { numRuns: 200 },
    );
  });

  it("maps a block's answer back so each point reads what the device holds at its address (property)", () => {
    fc.assert(
      fc.property(
        pointsArb,
        gapArb,
        fc.array(fc.integer({ min: 0, max: 0xffff }), { minLength: 700, maxLength: 700 }),
        fc.array(fc.boolean(), { minLength: 1000, maxLength: 1000 }),
        (points, maxGap, registers, bits) => {
          const memory = (t: Table): readonly number[] | readonly boolean[] => (isBitTable(t) ? bits : registers);
          const got = new Map<string, number[]>();
          for (const b of planReads(3, points, { maxGap })) {
            const answer = memory(b.table).slice(b.address, b.address + b.count) as number[] | boolean[];
            for (const [name, values] of blockValues(b, answer)) got.set(name, values);
          }
          for (const p of points) {
            const expected: number[] = [];
            for (let i = 0; i < p.count; i += 1) {
              if (isBitTable(p.table)) expected.push(bits[p.address + i] === true ? 1 : 0);
              else expected.push(decodeRaw(registers, p.type, p.order, p.address + i * pointLength({ ...p, count: 1 })) * p.scaling.scale + p.scaling.offset);
            }
            expect(got.get(p.name)).toEqual(expected);
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('plans the research example: one request per table, adjacent points merged, a distant one alone', () => {
    const blocks = planReads(1, [
      point('voltage_l1', 'input', 0, { type: 'float32', order: 'CDAB' }),
      point('voltage_l2', 'input', 2, { type: 'float32', order: 'CDAB' }),
      point('energy', 'holding', 100, { type: 'uint32' }),
      point('setpoint', 'holding', 200, { type: 'int16' }),
      point('running', 'coil', 5),
      point('fault', 'coil', 6),
    ]);
    expect(blocks.map((b) => [b.table, b.address, b.count, b.points.map((p) => p.point.name)])).toEqual([
      ['holding', 100, 2, ['energy']],
      ['holding', 200, 1, ['setpoint']],
      ['input', 0, 4, ['voltage_l1', 'voltage_l2']],
      ['coil', 5, 2, ['running', 'fault']],
    ]);
    expect(planReads(1, [point('a', 'holding', 100, { type: 'uint32' }), point('b', 'holding', 200)], { maxGap: 98 })).toHaveLength(1);
    expect(planReads(1, [point('a', 'holding', 100, { type: 'uint32' }), point('b', 'holding', 200)], { maxGap: 97 })).toHaveLength(2);
  });

  it('splits at the limit without splitting a point: 126 registers in a row are two requests, a float64 across 125 moves whole', () => {
    const row = Array.from({ length: 126 }, (_, i) => point(`r${i}`, 'holding', i));
    expect(planReads(1, row).map((b) => [b.address, b.count])).toEqual([[0, MAX_READ_REGISTERS], [125, 1]]);
    const straddling = [point('head', 'holding', 0, { count: 122 }), point('f64', 'holding', 122, { type: 'float64' })];
    expect(planReads(1, straddling).map((b) => [b.address, b.count])).toEqual([[0, 122], [122, 4]]);
    const coils = Array.from({ length: 2001 }, (_, i) => point(`c${i}`, 'coil', i));
    expect(planReads(1, coils).map((b) => [b.address, b.count])).toEqual([[0, MAX_READ_BITS], [2000, 1]]);
  });

  it('refuses a point no request can carry or one past address 65535 (the config check names them first)', () => {
    expect(() => planReads(1, [point('big', 'holding', 0, { type: 'float64', count: 32 })])).toThrow(/128 registers do not fit/);
    expect(() => planReads(1, [point('end', 'holding', 65535, { type: 'uint32' })])).toThrow(/outside 0..65535/);
    expect(() => planReads(1, [], { maxGap: -1 })).toThrow(RangeError);
  });

  it('takes coils padded to whole bytes, refuses a short answer or registers where bits were asked', () => {
    const [b] = planReads(2, [point('a', 'coil', 0), point('b', 'coil', 2)], { maxGap: 1 });
    const block = b as ReadBlock;
    expect(blockValues(block, [true, false, true, false, false, false, false, false])).toEqual(new Map([['a', [1]], ['b', [1]]]));
    expect(() => blockValues(block, [true, false])).toThrow(/answered 2/);
    expect(() => blockValues(block, [1, 0, 1])).toThrow(/expected bits/);
    const [h] = planReads(2, [point('t', 'holding', 10, { type: 'int32', order: 'DCBA', scaling: { scale: 0.5, offset: 1 } })]);
    expect(blockValues(h as ReadBlock, encodeRaw(-100, 'int32', 'DCBA'))).toEqual(new Map([['t', [-49]]]));
  });
});
