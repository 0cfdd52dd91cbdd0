/**
 * `edgewise modbus scan`: which unit ids answer on a bus, and which holding and input
 * registers each one has, to start a config from. One request at a time through a ModbusBus.
 *
 * A unit is there when it answers a read of holding register 0 (FC 3) or, failing that, input
 * register 0 (FC 4), with data or with an exception: either way something with that id
 * decoded the request. A timeout on both means nothing is there. Over TCP, exceptions 10 and
 * 11 (gateway path unavailable, gateway target failed to respond) come from a Modbus TCP to
 * RTU gateway that has no such device behind it: not there either.
 *
 * Register ranges: from the first readable of addresses 0 and 1, a bisection finds the highest
 * address that still reads (one register per request, at most 16 requests). That is exact for
 * a map without holes, the common case for meters and drives; a map with holes reads as the
 * end of some block, and the vendor's manual has the rest.
 */
import type { ModbusBus } from './bus.js';
import { classifyModbusError, EXCEPTION_NAMES } from './errors.js';
import { MAX_READ_REGISTERS } from './register-map.js';

export type RegisterTable = 'holding' | 'input';

/** Addresses `start`..`end` of a table read one register at a time; or why none did. */
export type RangeFound = { readonly start: number; readonly end: number } | { readonly none: string };

export interface UnitFound {
  readonly unit: number;
  /** What the presence probe got: `data` (a register), `exception N`, or `garbled` (a bad CRC or frame: something is there). */
  readonly answer: string;
  readonly holding: RangeFound;
  readonly input: RangeFound;
  /** Things the operator should know (a unit that stopped answering mid-probe, garbled replies). */
  readonly notes: readonly string[];
}

export interface ScanResult {
  readonly endpoint: string;
  readonly unitsProbed: number;
  readonly found: readonly UnitFound[];
  readonly requests: number;
  readonly ms: number;
}

export interface ScanOptions {
  readonly units: readonly number[];
  /** TCP: exceptions 10 and 11 mean "no such device behind the gateway". */
  readonly tcp: boolean;
  /** After each unit's presence probe (progress for a person). */
  readonly onProgress?: (p: { readonly unit: number; readonly done: number; readonly total: number; readonly found: number }) => void;
  /** After each unit found, before its ranges are probed. */
  readonly onFound?: (unit: number, answer: string) => void;
}

/** Addresses tried as a table's first register: 0, then 1 (maps numbered from 1 that refuse 0). */
const FIRST_ADDRESSES = [0, 1] as const;

type Probe = { readonly kind: 'data' } | { readonly kind: 'exception'; readonly code: number } | { readonly kind: 'silent' } | { readonly kind: 'garbled'; readonly detail: string };

/** The bus refused the request: the port is closed or the bus stopped. The scan cannot go on. */
export class ModbusScanAbortedError extends Error {
  readonly code = 'E_MODBUS_SCAN_ABORTED';

  constructor(reason: string) {
    super(`scan stopped: ${reason}`);
    this.name = 'ModbusScanAbortedError';
  }
}

async function probe(bus: ModbusBus, unit: number, table: RegisterTable, address: number): Promise<Probe> {
  try {
    await bus.readRegisters(unit, table, address, 1);
    return { kind: 'data' };
  } catch (err) {
    const f = classifyModbusError(err);
    switch (f.kind) {
      case 'exception':
        return { kind: 'exception', code: f.code };
      case 'timeout':
        return { kind: 'silent' };
      case 'crc':
        return { kind: 'garbled', detail: 'bad CRC' };
      case 'framing':
        return { kind: 'garbled', detail: f.detail };
      default:
        throw new ModbusScanAbortedError((err as Error).message);
    }
  }
}

const describeProbe = (p: Probe): string => (p.kind === 'exception' ? `exception ${p.code} (${EXCEPTION_NAMES[p.code] ?? 'unknown'})` : p.kind === 'garbled' ? `garbled (${p.detail})` : p.kind);

/** Whether a probe says a device with that unit id is on the bus. */
function present(p: Probe, tcp: boolean): boolean {
  if (p.kind === 'silent') return false;
  if (p.kind === 'exception' && tcp && (p.code === 10 || p.code === 11)) return false;
  return true;
}

/** The readable range of one table, by bisection on its highest readable address. `known0`: what address 0 already gave. */
async function findRange(bus: ModbusBus, unit: number, table: RegisterTable, known0: Probe | undefined, notes: string[]): Promise<RangeFound> {
  let start: number | undefined;
  const refused: string[] = [];
  for (const address of FIRST_ADDRESSES) {
    const p = address === 0 && known0 !== undefined ? known0 : await probe(bus, unit, table, address);
    if (p.kind === 'data') {
      start = address;
      break;
    }
    if (p.kind === 'silent') {
      notes.push(`${table} ${address}: no answer (the unit answered other requests)`);
      return { none: `no answer at ${table} ${address}` };
    }
    refused.push(`${address}: ${describeProbe(p)}`);
  }
  if (start === undefined) return { none: `not readable at ${refused.join(', ')}` };
  // Invariant: lo reads, hi does not (65536 is past the table).
  let lo = start;
  let hi = 0x10000;
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    const p = await probe(bus, unit, table, mid);
    if (p.kind === 'data') lo = mid;
    else if (p.kind === 'silent') {
      notes.push(`${table} ${mid}: no answer during the range search; the range may end later than ${lo}`);
      break;
    } else hi = mid;
  }
  return { start, end: lo };
}

/** Probes each unit id in turn; for each one found, its holding and input register ranges. */
export async function scanBus(bus: ModbusBus, options: ScanOptions): Promise<ScanResult> {
  const started = Date.now();
  const requestsBefore = bus.stats().requests;
  const found: UnitFound[] = [];
  let done = 0;
  for (const unit of options.units) {
    const hr0 = await probe(bus, unit, 'holding', 0);
    let answer = hr0;
    let ir0: Probe | undefined;
    if (!present(hr0, options.tcp)) {
      ir0 = await probe(bus, unit, 'input', 0);
      answer = ir0;
    }
    done += 1;
    if (present(answer, options.tcp)) {
      options.onFound?.(unit, describeProbe(answer));
      const notes: string[] = [];
      if (answer.kind === 'garbled') notes.push(`replies are garbled (${answer.detail}): check the baud rate, parity and termination`);
      const holding = await findRange(bus, unit, 'holding', present(hr0, options.tcp) ? hr0 : undefined, notes);
      const input = await findRange(bus, unit, 'input', ir0, notes);
      found.push({ unit, answer: describeProbe(answer), holding, input, notes });
    }
    options.onProgress?.({ unit, done, total: options.units.length, found: found.length });
  }
  return { endpoint: bus.endpoint, unitsProbed: options.units.length, found, requests: bus.stats().requests - requestsBefore, ms: Date.now() - started };
}

/** Registers of one table put in the snippet at most (a device answering every address would give 65536). */
export const SNIPPET_MAX_REGISTERS = 1000;

/** Slave names in the snippet: `unit<N>`. */
export const slaveName = (unit: number): string => `unit${unit}`;

function pointsOf(table: RegisterTable, r: RangeFound): { lines: string[]; comment: string } {
  if ('none' in r) return { lines: [], comment: `${table}: ${r.none}` };
  const length = r.end - r.start + 1;
  const shown = Math.min(length, SNIPPET_MAX_REGISTERS);
  const lines: string[] = [];
  for (let a = r.start; a < r.start + shown; a += MAX_READ_REGISTERS) {
    const count = Math.min(MAX_READ_REGISTERS, r.start + shown - a);
    lines.push(`          - { name: ${table === 'holding' ? 'hr' : 'ir'}_${a}, table: ${table}, address: ${a}${count > 1 ? `, count: ${count}` : ''} }`);
  }
  const cut = shown < length ? `; the snippet reads the first ${shown}` : '';
  return { lines, comment: `${table} ${r.start}..${r.end} (${length} registers${cut})` };
}

/**
 * A `slaves:` list for a modbus source's config, one slave per unit found, reading every
 * register found as uint16 in blocks of at most 125: a start to rename, type and scale from
 * the device's manual. A unit with no readable register is a comment only (a group needs a point).
 */
export function scanSnippet(result: ScanResult): string {
  const out = [`# edgewise modbus scan of ${result.endpoint}: ${result.found.length} unit(s) answered of ${result.unitsProbed} probed`];
  const slaves: string[] = [];
  for (const u of result.found) {
    const h = pointsOf('holding', u.holding);
    const i = pointsOf('input', u.input);
    const header = `  # unit ${u.unit}: answered ${u.answer}; ${h.comment}; ${i.comment}`;
    const notes = u.notes.map((n) => `  # note: ${n}`);
    if (h.lines.length + i.lines.length === 0) {
      slaves.push(header, ...notes, `  # unit ${u.unit} has no register readable from address 0 or 1: add its points from its manual`);
      continue;
    }
    slaves.push(header, ...notes, `  - unit: ${u.unit}`, `    name: ${slaveName(u.unit)}`, '    groups:', '      - name: scan', '        intervalMs: 1000', '        points:', ...h.lines, ...i.lines);
  }
  const any = result.found.some((u) => !('none' in u.holding) || !('none' in u.input));
  out.push(any ? 'slaves:' : '# slaves: (none to list)', ...slaves);
  return `${out.join('\n')}\n`;
}
