import fc from 'fast-check';
import spb from 'sparkplug-payload';
import { describe, expect, it } from 'vitest';
import { aliasTable, coerce, DATATYPE_IDS, encodeDeviceBirth, encodeDeviceData, encodeNodeBirth, encodeNodeDeath, isRebirthCommand, REBIRTH_ALIAS, SPARKPLUG_TYPES, type SparkplugType } from '../../../../runtime/uplink/sparkplug/metrics.js';

const sp = spb.get('spBv1.0') as NonNullable<ReturnType<typeof spb.get>>;

/** A value that fits each datatype. */
const fitting: Record<SparkplugType, fc.Arbitrary<number | boolean | string>> = {
  Int8: fc.integer({ min: -128, max: 127 }),
  Int16: fc.integer({ min: -32_768, max: 32_767 }),
  Int32: fc.integer({ min: -2_147_483_648, max: 2_147_483_647 }),
  Int64: fc.maxSafeInteger(),
  UInt8: fc.integer({ min: 0, max: 255 }),
  UInt16: fc.integer({ min: 0, max: 65_535 }),
  UInt32: fc.integer({ min: 0, max: 4_294_967_295 }),
  UInt64: fc.maxSafeNat(),
  Float: fc.float({ noNaN: true }).map(Number),
  Double: fc.double({ noNaN: true }),
  Boolean: fc.boolean(),
  String: fc.string({ maxLength: 40 }),
};

function plain(v: unknown): unknown {
  return typeof v === 'object' && v !== null && 'toNumber' in v ? (v as { toNumber(): number }).toNumber() : v;
}

describe('Sparkplug payloads', () => {
  it('round-trips every datatype through the reference decoder (sparkplug-payload) when the datatype is sent', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...SPARKPLUG_TYPES).chain((type) => fc.tuple(fc.constant(type), fitting[type], fc.boolean(), fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 2 ** 41 }))),
        ([type, value, historical, seq, ts]) => {
          const metric = { name: 'm', type, unit: undefined, alias: 42, writable: false };
          const decoded = sp.decodePayload(encodeDeviceData([{ metric, value, ts, historical }], seq, ts, true));
          expect(plain(decoded.seq)).toBe(seq);
          const m = decoded.metrics?.[0];
          expect(plain(m?.alias)).toBe(42);
          expect(m?.name).toBeUndefined();
          expect(plain(m?.timestamp)).toBe(ts);
          expect(m?.isHistorical === true).toBe(historical);
          let got = plain(m?.value);
          if (type === 'UInt32') got = (got as number) >>> 0; // the reference decoder reads UInt32 as a signed int
          expect(got).toStrictEqual(type === 'Float' ? Math.fround(value as number) : value);
        },
      ),
      { numRuns: 400 },
    );
  });

  it('leaves the datatype out of DDATA by default, and the reference decoder then needs the birth (value null)', () => {
    const metric = { name: 'm', type: 'Double' as const, unit: undefined, alias: 7, writable: false };
    const decoded = sp.decodePayload(encodeDeviceData([{ metric, value: 1.5, ts: 1, historical: false }], 3, 1, false));
    expect(decoded.metrics?.[0]?.value).toBe(null);
  });

  it('writes births with name, alias, datatype, engUnit and the current value (null when none yet)', () => {
    const [device] = aliasTable([{ id: 'press-1', metrics: [{ name: 't', type: 'Double', unit: 'degC' }, { name: 'ok', type: 'Boolean' }] }]);
    const d = device as NonNullable<typeof device>;
    const t = d.byName.get('t');
    const decoded = sp.decodePayload(encodeDeviceBirth(d, new Map([[t?.alias as number, { value: 20.5, ts: 99 }]]), 4, 100));
    expect(plain(decoded.seq)).toBe(4);
    expect(decoded.metrics?.map((m) => ({ name: m.name, alias: plain(m.alias), type: m.type, value: m.value, ts: plain(m.timestamp), unit: m.properties?.['engUnit']?.value }))).toEqual([
      { name: 't', alias: t?.alias, type: 'Double', value: 20.5, ts: 99, unit: 'degC' },
      { name: 'ok', alias: d.byName.get('ok')?.alias, type: 'Boolean', value: null, ts: 100, unit: undefined },
    ]);
    const nbirth = sp.decodePayload(encodeNodeBirth(17, 5));
    expect(plain(nbirth.seq)).toBe(0);
    expect(nbirth.metrics?.map((m) => [m.name, m.type, plain(m.value)])).toEqual([
      ['bdSeq', 'Int64', 17],
      ['Node Control/Rebirth', 'Boolean', false],
    ]);
    const ndeath = sp.decodePayload(encodeNodeDeath(17, 5));
    expect(ndeath.seq).toBeUndefined();
    expect(ndeath.metrics?.map((m) => [m.name, plain(m.value)])).toEqual([['bdSeq', 17]]);
  });

  it('coerces a value to its datatype or refuses it, and never throws', () => {
    expect(coerce('Int16', [-5])).toBe(-5);
    expect(coerce('Int16', [1, 2])).toBeUndefined();
    expect(coerce('UInt8', 256)).toBeUndefined();
    expect(coerce('Int32', 1.5)).toBeUndefined();
    expect(coerce('Boolean', 1)).toBe(true);
    expect(coerce('Boolean', 2)).toBeUndefined();
    expect(coerce('String', 3)).toBe('3');
    expect(coerce('Double', 'x')).toBeUndefined();
    expect(coerce('Double', null)).toBe(null);
    fc.assert(
      fc.property(fc.constantFrom(...SPARKPLUG_TYPES), fc.oneof(fc.double(), fc.boolean(), fc.string(), fc.constant(null), fc.array(fc.double(), { maxLength: 3 })), (type, value) => {
        const v = coerce(type, value);
        if (v === undefined || v === null) return;
        expect(typeof v).toBe(type === 'Boolean' ? 'boolean' : type === 'String' ? 'string' : 'number');
        if (type.includes('Int')) expect(Number.isSafeInteger(v)).toBe(true);
        if (type.startsWith('U')) expect(v as number).toBeGreaterThanOrEqual(0);
      }),
    );
  });

  it('matches the README worked example: alias of line1/n and the two\'s complement of an Int32', () => {
    const [d] = aliasTable([{ id: 'line1.rs485', deviceId: 'line1', metrics: [{ name: 'n', type: 'Int32' }] }]);
    expect(d?.byName.get('n')?.alias).toBe(3_710_925_789);
    const decoded = sp.decodePayload(encodeDeviceData([{ metric: d?.metrics[0] as NonNullable<typeof d>['metrics'][number], value: -100, ts: 1_764_560_000_000, historical: false }], 3, 1, true));
    expect(decoded.metrics?.[0]?.value).toBe(-100);
  });

  it('gives every metric a unique alias, never the reserved ones, and keeps it when other metrics come or go', () => {
    const names = fc.uniqueArray(fc.string({ minLength: 1, maxLength: 12 }), { minLength: 1, maxLength: 30 });
    fc.assert(
      fc.property(names, names, (a, b) => {
        const table = aliasTable([
          { id: 'd1', metrics: a.map((name) => ({ name })) },
          { id: 'd2', metrics: b.map((name) => ({ name })) },
        ]);
        const aliases = table.flatMap((d) => d.metrics.map((m) => m.alias));
        expect(new Set(aliases).size).toBe(aliases.length);
        expect(aliases.every((x) => x > REBIRTH_ALIAS && Number.isSafeInteger(x))).toBe(true);
        // Dropping d2 and the first metric of d1 leaves the others' aliases as they were (no collisions among so few).
        const smaller = aliasTable([{ id: 'd1', metrics: a.slice(1).map((name) => ({ name })) }]);
        for (const m of smaller[0]?.metrics ?? []) expect(m.alias).toBe(table[0]?.byName.get(m.name)?.alias);
      }),
    );
  });

  it('recognises Node Control/Rebirth by name or by its alias, and rejects bytes that are not a payload', () => {
    expect(isRebirthCommand(sp.encodePayload({ timestamp: 1, metrics: [{ name: 'Node Control/Rebirth', type: 'Boolean', value: true }] }))).toBe(true);
    expect(isRebirthCommand(sp.encodePayload({ timestamp: 1, metrics: [{ alias: REBIRTH_ALIAS, type: 'Boolean', value: true }] }))).toBe(true);
    expect(isRebirthCommand(sp.encodePayload({ timestamp: 1, metrics: [{ name: 'Node Control/Rebirth', type: 'Boolean', value: false }] }))).toBe(false);
    expect(isRebirthCommand(sp.encodePayload({ timestamp: 1, metrics: [{ name: 'Node Control/Next Server', type: 'Boolean', value: true }] }))).toBe(false);
    expect(() => isRebirthCommand(Uint8Array.from([0xff, 0xff, 0xff]))).toThrow();
    expect(DATATYPE_IDS.Boolean).toBe(11);
  });
});
