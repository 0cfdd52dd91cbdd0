import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { NUMERIC_TYPES, WORD_ORDERS, decodeRaw, encodeRaw, rangeOf, type NumericType, type WordOrder } from '../../../devices/modbus/decode.js';

/** Debian's python3-pymodbus is visible only to the system python (the pyenv one on PATH does not see it). */
const PYTHON = '/usr/bin/python3';
const SCRIPT = fileURLToPath(new URL('./pymodbus-payload.py', import.meta.url));

interface Case {
  readonly type: NumericType;
  readonly order: WordOrder;
  readonly value: number;
}

function valueOf(type: NumericType): fc.Arbitrary<number> {
  if (type === 'float32') return fc.float({ noNaN: true, noDefaultInfinity: true });
  if (type === 'float64') return fc.double({ noNaN: true, noDefaultInfinity: true });
  const { min, max } = rangeOf(type);
  return fc.integer({ min, max });
}

// JSON carries no -0 (it arrives in Python as 0); decode.test.ts covers -0 without crossing a process.
const caseArb: fc.Arbitrary<Case> = fc
  .constantFrom(...NUMERIC_TYPES)
  .chain((type) => fc.record({ type: fc.constant(type), order: fc.constantFrom(...WORD_ORDERS), value: valueOf(type).filter((v) => !Object.is(v, -0)) }));

describe("decode.ts against pymodbus's BinaryPayloadBuilder (an outside implementation)", () => {
  it('lays out 2,000 random values of every type in every order exactly as pymodbus does, and reads them back', () => {
    const cases = fc.sample(caseArb, { numRuns: 2000, seed: 20 });
    const run = spawnSync(PYTHON, [SCRIPT], { input: JSON.stringify(cases), encoding: 'utf8', timeout: 30_000 });
    expect(run.error, `${PYTHON} with python3-pymodbus (apt-get install python3-pymodbus)`).toBeUndefined();
    expect(run.stderr).toBe('');
    const theirs = JSON.parse(run.stdout) as number[][];
    expect(theirs).toHaveLength(cases.length);
    const mismatches = cases.flatMap((c, i) => {
      const mine = encodeRaw(c.value, c.type, c.order);
      const back = decodeRaw(theirs[i] ?? [], c.type, c.order);
      return JSON.stringify(mine) === JSON.stringify(theirs[i]) && Object.is(back, c.value) ? [] : [{ ...c, mine, theirs: theirs[i], back }];
    });
    expect(mismatches).toEqual([]);
    for (const type of NUMERIC_TYPES) for (const order of WORD_ORDERS) expect(cases.some((c) => c.type === type && c.order === order), `${type} ${order} sampled`).toBe(true);
  });
});
