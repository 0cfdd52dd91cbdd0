import { ProtocolError } from './errors.js';
import type { GatewayHardware, HealthReport, ModelReleases, ReleaseRef } from './health.js';
import { isGatewayId } from './topics.js';

/** One decoder for every message (`fatal`: malformed UTF-8 is refused, not replaced); without `stream` it keeps no state between calls. */
const utf8 = new TextDecoder('utf-8', { fatal: true });

/** A health report is a few KiB; anything near this is not one. */
export const MAX_HEALTH_BYTES = 262_144;

/**
 * What a receiver reads of a health report, checked. The report carries many counters that
 * only people read; those are kept as the JSON they came in (`report`), while the fields a
 * receiver acts on are validated here, each problem naming its field.
 */
export interface HealthMessage {
  readonly gw: string;
  readonly ts: number;
  readonly runtimeVersion: string;
  readonly status: 'ok' | 'degraded';
  readonly reasons: readonly string[];
  readonly hardware: GatewayHardware | null;
  readonly releases: Readonly<Record<string, ModelReleases>> | null;
  /** The whole report as sent (a JSON object). */
  readonly report: Readonly<Record<string, unknown>>;
}

function invalid(message: string): ProtocolError {
  return new ProtocolError('E_PAYLOAD_INVALID', `health${message}`);
}

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);
const shortString = (v: unknown, max = 256): v is string => typeof v === 'string' && v.length <= max;

function releaseRef(v: unknown, where: string): ReleaseRef | null {
  if (v === null || v === undefined) return null;
  if (!isObject(v)) throw invalid(`${where}: expected an object or null`);
  if (!Number.isSafeInteger(v['release'])) throw invalid(`${where}.release: expected an integer`);
  if (!shortString(v['version'])) throw invalid(`${where}.version: expected a string`);
  if (!shortString(v['sha256'], 128)) throw invalid(`${where}.sha256: expected a string`);
  return { release: v['release'] as number, version: v['version'], sha256: v['sha256'] };
}

function hardware(v: unknown): GatewayHardware | null {
  if (v === undefined || v === null) return null;
  if (!isObject(v)) throw invalid('.hardware: expected an object');
  for (const k of ['arch', 'platform'] as const) if (!shortString(v[k], 64)) throw invalid(`.hardware.${k}: expected a string`);
  for (const k of ['cpus', 'memoryBytes'] as const) if (typeof v[k] !== 'number' || !Number.isFinite(v[k]) || (v[k] as number) < 0) throw invalid(`.hardware.${k}: expected a number >= 0`);
  const acc = v['accelerators'];
  if (!Array.isArray(acc) || acc.length > 32 || !acc.every((a) => shortString(a, 64))) throw invalid('.hardware.accelerators: expected a list of at most 32 names');
  return { arch: v['arch'] as string, platform: v['platform'] as string, cpus: v['cpus'] as number, memoryBytes: v['memoryBytes'] as number, accelerators: acc as string[] };
}

function releases(v: unknown): Record<string, ModelReleases> | null {
  if (v === undefined || v === null) return null;
  if (!isObject(v)) throw invalid('.releases: expected an object');
  const entries = Object.entries(v);
  if (entries.length > 256) throw invalid('.releases: more than 256 models');
  const out: Record<string, ModelReleases> = {};
  for (const [model, r] of entries) {
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(model)) throw invalid(`.releases: ${JSON.stringify(model.slice(0, 80))} is not a model name`);
    if (!isObject(r)) throw invalid(`.releases.${model}: expected an object`);
    out[model] = { active: releaseRef(r['active'], `.releases.${model}.active`), standby: releaseRef(r['standby'], `.releases.${model}.standby`) };
  }
  return out;
}

/** Decodes `.../health`: UTF-8 JSON of a HealthReport. Throws ProtocolError naming the field. */
export function decodeHealth(bytes: Uint8Array): HealthMessage {
  if (bytes.length > MAX_HEALTH_BYTES) throw new ProtocolError('E_PAYLOAD_TOO_LARGE', `health: ${bytes.length} bytes, at most ${MAX_HEALTH_BYTES}`);
  let v: unknown;
  try {
    v = JSON.parse(utf8.decode(bytes));
  } catch (err) {
    throw new ProtocolError('E_PAYLOAD_DECODE', `health: not UTF-8 JSON (${(err as Error).message})`, { cause: err });
  }
  if (!isObject(v)) throw invalid(': expected a JSON object');
  if (typeof v['gw'] !== 'string' || !isGatewayId(v['gw'])) throw invalid(`.gw: expected a gateway id, got ${JSON.stringify(v['gw'])?.slice(0, 80)}`);
  if (typeof v['ts'] !== 'number' || !Number.isFinite(v['ts']) || v['ts'] < 0 || v['ts'] > 8.64e15) throw invalid('.ts: expected milliseconds since 1970');
  if (!shortString(v['runtimeVersion'], 64)) throw invalid('.runtimeVersion: expected a string');
  if (v['status'] !== 'ok' && v['status'] !== 'degraded') throw invalid(`.status: expected "ok" or "degraded", got ${JSON.stringify(v['status'])?.slice(0, 80)}`);
  const reasons = v['reasons'];
  if (!Array.isArray(reasons) || reasons.length > 100 || !reasons.every((r) => shortString(r, 1024))) throw invalid('.reasons: expected a list of at most 100 strings');
  return {
    gw: v['gw'],
    ts: v['ts'],
    runtimeVersion: v['runtimeVersion'],
    status: v['status'],
    reasons: reasons as string[],
    hardware: hardware(v['hardware']),
    releases: releases(v['releases']),
    report: v,
  };
}

/** For the gateway: the report as it goes on the wire. */
export function encodeHealth(report: HealthReport): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(report));
}
