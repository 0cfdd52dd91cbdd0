import { createRequire } from 'node:module';

/**
 * Sparkplug B metrics of this edge node: the alias table built from the config, value
 * coercion to each metric's datatype, and the payloads (NBIRTH, DBIRTH, DDATA, NDEATH).
 *
 * Payloads are encoded with the package's generated protobuf type directly, not with its
 * `encodePayload`: that one always writes `datatype`, and Sparkplug 3.0 says the datatype
 * MUST be in NBIRTH/DBIRTH (tck-id-payloads-metric-datatype-req) and SHOULD NOT be in
 * NDATA/DDATA/NCMD/DCMD (tck-id-payloads-metric-datatype-not-req). We follow the SHOULD NOT:
 * a host must keep the birth's alias -> datatype map anyway (aliases only make sense with it),
 * DDATA gets 2 bytes shorter per metric, and `datatypeInData: true` is there for a host built
 * on a decoder that needs it (sparkplug-payload's own `decodePayload` returns `value: null`
 * for a metric without a datatype).
 */

/** Datatypes we announce (Sparkplug 3.0 basic types; ids from the spec's DataType enum). */
export const SPARKPLUG_TYPES = ['Int8', 'Int16', 'Int32', 'Int64', 'UInt8', 'UInt16', 'UInt32', 'UInt64', 'Float', 'Double', 'Boolean', 'String'] as const;
export type SparkplugType = (typeof SPARKPLUG_TYPES)[number];
export const DATATYPE_IDS: Readonly<Record<SparkplugType, number>> = { Int8: 1, Int16: 2, Int32: 3, Int64: 4, UInt8: 5, UInt16: 6, UInt32: 7, UInt64: 8, Float: 9, Double: 10, Boolean: 11, String: 12 };

const INT_RANGES: Partial<Record<SparkplugType, readonly [number, number]>> = {
  Int8: [-128, 127],
  Int16: [-32_768, 32_767],
  Int32: [-2_147_483_648, 2_147_483_647],
  Int64: [Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER],
  UInt8: [0, 255],
  UInt16: [0, 65_535],
  UInt32: [0, 4_294_967_295],
  UInt64: [0, Number.MAX_SAFE_INTEGER],
};

/** The reserved node metric a host writes to ask for new births (tck-id-operational-behavior-data-commands-rebirth-name). */
export const REBIRTH_METRIC = 'Node Control/Rebirth';
/** Its alias; device metric aliases never take it. */
export const REBIRTH_ALIAS = 1;

/** A value as a source hands it over: a one-element list (Modbus points) counts as its element. */
export type FeedValue = number | boolean | string | null | readonly number[];

/** A value after coercion: what goes on the wire, or undefined when it cannot be this datatype. */
export function coerce(type: SparkplugType, value: FeedValue): number | boolean | string | null | undefined {
  let v: unknown = value;
  if (Array.isArray(v)) {
    if (v.length !== 1) return undefined;
    v = v[0];
  }
  if (v === null) return null;
  switch (type) {
    case 'Boolean':
      if (typeof v === 'boolean') return v;
      if (v === 0 || v === 1) return v === 1;
      return undefined;
    case 'String':
      if (typeof v === 'string') return v;
      if (typeof v === 'number' || typeof v === 'boolean') return String(v);
      return undefined;
    case 'Float':
    case 'Double':
      return typeof v === 'number' ? v : typeof v === 'boolean' ? Number(v) : undefined;
    default: {
      const range = INT_RANGES[type] as readonly [number, number];
      const n = typeof v === 'boolean' ? Number(v) : v;
      if (typeof n !== 'number' || !Number.isInteger(n) || n < range[0] || n > range[1]) return undefined;
      return n;
    }
  }
}

/** The protobuf value field of a datatype, with the spec's encoding of signed ints in unsigned fields. */
function valueField(type: SparkplugType, v: number | boolean | string): Record<string, unknown> {
  switch (type) {
    case 'Int8':
    case 'Int16':
    case 'Int32':
    case 'UInt8':
    case 'UInt16':
      // int_value is uint32: a negative value travels as its 32-bit two's complement.
      return { intValue: (v as number) >>> 0 };
    case 'Int64':
    case 'UInt32':
    case 'UInt64':
      // long_value is uint64; protobufjs writes a negative number as its 64-bit two's complement.
      return { longValue: v as number };
    case 'Float':
      return { floatValue: v as number };
    case 'Double':
      return { doubleValue: v as number };
    case 'Boolean':
      return { booleanValue: v as boolean };
    case 'String':
      return { stringValue: v as string };
  }
}

export interface MetricDef {
  readonly name: string;
  readonly type: SparkplugType;
  readonly unit: string | undefined;
  readonly alias: number;
  /** A host may set it with a DCMD (the config's `write: true`). */
  readonly writable: boolean;
}

export interface DeviceDef {
  readonly sourceId: string;
  readonly deviceId: string;
  readonly metrics: readonly MetricDef[];
  readonly byName: ReadonlyMap<string, MetricDef>;
}

/** FNV-1a, 32 bits: a stable number from a string. */
function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (const byte of Buffer.from(text, 'utf8')) {
    h ^= byte;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

/**
 * The alias table. An alias is the FNV-1a hash of `<device id>/<metric name>` (above the
 * reserved node aliases), moved to the next free number on a collision: a metric keeps its
 * alias when others are added or removed from the config, so a host's history by alias stays
 * readable across a config change (collisions aside, one in millions per pair). Aliases must
 * be unique across the whole edge node (tck-id-payloads-alias-uniqueness).
 */
export function aliasTable(
  sources: readonly { readonly id: string; readonly deviceId?: string | undefined; readonly metrics: readonly { readonly name: string; readonly type?: SparkplugType | undefined; readonly unit?: string | undefined; readonly write?: boolean | undefined }[] }[],
): DeviceDef[] {
  const taken = new Set<number>([0, REBIRTH_ALIAS]);
  return sources.map((src) => {
    const deviceId = src.deviceId ?? src.id;
    const metrics = src.metrics.map((m) => {
      let alias = 2 + fnv1a(`${deviceId}/${m.name}`);
      while (taken.has(alias)) alias += 1;
      taken.add(alias);
      return { name: m.name, type: m.type ?? 'Double', unit: m.unit, alias, writable: m.write === true };
    });
    return { sourceId: src.id, deviceId, metrics, byName: new Map(metrics.map((m) => [m.name, m])) };
  });
}

type ProtoPayload = { encode(message: unknown): { finish(): Uint8Array } };
let payloadType: ProtoPayload | undefined;
/**
 * The generated protobuf type, loaded on first use: the config check imports this module (for
 * the datatype names) and should not pay for loading protobufjs (~120 ms) on every gateway.
 */
function payloadProto(): ProtoPayload {
  payloadType ??= (createRequire(import.meta.url)('sparkplug-payload/lib/sparkplugPayloadProto.js') as { org: { eclipse: { tahu: { protobuf: { Payload: ProtoPayload } } } } }).org.eclipse.tahu.protobuf.Payload;
  return payloadType;
}

function engUnit(unit: string | undefined): Record<string, unknown> | undefined {
  return unit === undefined ? undefined : { keys: ['engUnit'], values: [{ type: DATATYPE_IDS.String, stringValue: unit }] };
}

/** NBIRTH: bdSeq (Int64, tck-id-message-flow-edge-node-birth-publish-nbirth-payload-bdSeq) and Node Control/Rebirth = false, seq 0. */
export function encodeNodeBirth(bdSeq: number, nowMs: number): Uint8Array {
  return payloadProto().encode({
    timestamp: nowMs,
    seq: 0,
    metrics: [
      { name: 'bdSeq', timestamp: nowMs, datatype: DATATYPE_IDS.Int64, longValue: bdSeq },
      { name: REBIRTH_METRIC, alias: REBIRTH_ALIAS, timestamp: nowMs, datatype: DATATYPE_IDS.Boolean, booleanValue: false },
    ],
  }).finish();
}

/** NDEATH: only the bdSeq metric and no seq (tck-id-topics-ndeath-payload, -ndeath-seq). */
export function encodeNodeDeath(bdSeq: number, nowMs: number): Uint8Array {
  return payloadProto().encode({ timestamp: nowMs, metrics: [{ name: 'bdSeq', timestamp: nowMs, datatype: DATATYPE_IDS.Int64, longValue: bdSeq }] }).finish();
}

/** A metric's last known value and its time, for births ("current values", tck-id-operational-behavior-data-publish-dbirth-values). */
export interface LastValue {
  readonly value: number | boolean | string | null;
  readonly ts: number;
}

/** DBIRTH: every metric with name, alias, datatype, engUnit and its last known value (is_null when none yet). */
export function encodeDeviceBirth(device: DeviceDef, last: ReadonlyMap<number, LastValue>, seq: number, nowMs: number): Uint8Array {
  return payloadProto().encode({
    timestamp: nowMs,
    seq,
    metrics: device.metrics.map((m) => {
      const lv = last.get(m.alias);
      const metric: Record<string, unknown> = { name: m.name, alias: m.alias, timestamp: lv?.ts ?? nowMs, datatype: DATATYPE_IDS[m.type] };
      const props = engUnit(m.unit);
      if (props !== undefined) metric['properties'] = props;
      if (lv === undefined || lv.value === null) metric['isNull'] = true;
      else Object.assign(metric, valueField(m.type, lv.value));
      return metric;
    }),
  }).finish();
}

export interface DataMetric {
  readonly metric: MetricDef;
  readonly value: number | boolean | string | null;
  readonly ts: number;
  readonly historical: boolean;
}

/** DDATA: metrics by alias only (tck-id-payloads-alias-data-cmd-requirement), each with its own timestamp. */
export function encodeDeviceData(metrics: readonly DataMetric[], seq: number, nowMs: number, withDatatype: boolean): Uint8Array {
  return payloadProto().encode({
    timestamp: nowMs,
    seq,
    metrics: metrics.map((d) => {
      const metric: Record<string, unknown> = { alias: d.metric.alias, timestamp: d.ts };
      if (withDatatype) metric['datatype'] = DATATYPE_IDS[d.metric.type];
      if (d.historical) metric['isHistorical'] = true;
      if (d.value === null) metric['isNull'] = true;
      else Object.assign(metric, valueField(d.metric.type, d.value));
      return metric;
    }),
  }).finish();
}

/** DDEATH: no metrics, the next seq. */
export function encodeDeviceDeath(seq: number, nowMs: number): Uint8Array {
  return payloadProto().encode({ timestamp: nowMs, seq }).finish();
}

type ProtoDecoder = { decode(bytes: Uint8Array): { metrics?: { name?: string | null; alias?: unknown; booleanValue?: boolean | null }[] } };

/**
 * True when an NCMD asks for a rebirth: the metric `Node Control/Rebirth` (by name, or by its
 * alias from our NBIRTH) with the value true. Throws on a payload that is not a Sparkplug payload.
 */
export function isRebirthCommand(bytes: Uint8Array): boolean {
  const decoded = (payloadProto() as unknown as ProtoDecoder).decode(bytes);
  // protobufjs puts defaults of absent fields on the prototype: only own properties were on the wire.
  const has = (o: object, key: string): boolean => Object.prototype.hasOwnProperty.call(o, key);
  return (decoded.metrics ?? []).some((m) => (has(m, 'name') ? m.name === REBIRTH_METRIC : has(m, 'alias') && Number(m.alias) === REBIRTH_ALIAS) && m.booleanValue === true);
}

/** One metric of a DCMD as the host sent it: by alias or by name, its value from whichever value field was on the wire. */
export interface CommandMetric {
  readonly name: string | undefined;
  readonly alias: number | undefined;
  /** undefined: no value field (or is_null). */
  readonly value: number | boolean | string | undefined;
}

type WireValue = number | boolean | string | { toNumber(): number } | null | undefined;
type CommandDecoder = { decode(bytes: Uint8Array): { metrics?: Record<string, WireValue>[] } };

/**
 * The metrics of a DCMD. A DCMD carries no datatype (tck-id-payloads-metric-datatype-not-req):
 * a value is read from the field that is on the wire; signed integers come in the unsigned
 * fields as two's complement, which `coerceCommand` undoes for the metric's own datatype.
 * Throws on a payload that is not a Sparkplug payload.
 */
export function decodeCommandMetrics(bytes: Uint8Array): CommandMetric[] {
  const decoded = (payloadProto() as unknown as CommandDecoder).decode(bytes);
  const has = (o: object, key: string): boolean => Object.prototype.hasOwnProperty.call(o, key);
  return (decoded.metrics ?? []).map((m) => {
    let value: number | boolean | string | undefined;
    if (m['isNull'] !== true) {
      for (const field of ['booleanValue', 'stringValue', 'doubleValue', 'floatValue', 'intValue', 'longValue']) {
        if (!has(m, field)) continue;
        const v = m[field];
        if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'string') value = v;
        else if (v !== null && v !== undefined) value = v.toNumber();
        break;
      }
    }
    const alias = has(m, 'alias') ? Number(m['alias']) : undefined;
    return { name: has(m, 'name') && typeof m['name'] === 'string' ? m['name'] : undefined, alias, value };
  });
}

/** A DCMD value as the metric's datatype (signed integers from their unsigned wire fields), or undefined when it cannot be. */
export function coerceCommand(type: SparkplugType, value: number | boolean | string): number | boolean | string | undefined {
  let v = value;
  if (typeof v === 'number' && Number.isInteger(v)) {
    if (type === 'Int8' || type === 'Int16' || type === 'Int32') v = v > 0x7fff_ffff ? v | 0 : v;
    else if (type === 'Int64' && v >= 2 ** 63) v = v - 2 ** 64;
  }
  const c = coerce(type, v);
  return c === null ? undefined : c;
}
