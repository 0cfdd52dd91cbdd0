import { Readable } from 'node:stream';
import { CsvError, parse } from 'csv-parse';
import { ProblemList } from './dataset-error.js';
import { describeTimestampFormat, parseTimestamp, timestampFormatOf, type TimestampFormat } from './csv-timestamps.js';
import type { SensorLog } from './types.js';

/**
 * One sensor log in CSV (csv-parse does the quoting, line ends and BOM; this file the meaning):
 *   timestamp,vibration[g],temperature (degC),current,label
 *   2026-03-01T08:00:00.000Z,0.12,41.5,5.6,0
 * - The timestamp column is the one called timestamp, time, datetime or ts (csv-timestamps.ts
 *   says which formats); every other column is a channel, except `label`.
 * - A channel's unit in the header, as `name[unit]` or `name (unit)`, or in a side file (see
 *   sensor-logs.ts); none is fine ('').
 * - `label` (optional): 1 (or true) where the machine was abnormal, 0 (false) where normal.
 * - Separators: comma, or semicolon or tab when the header has those and no comma (a spreadsheet
 *   in a locale with decimal commas, whose numbers `41,5` are then read as 41.5). Lines starting
 *   with # are comments; empty lines are skipped.
 * Every bad row (wrong column count, a value that is not a number, a timestamp before the
 * previous row's) is a problem at file:line; up to MAX_PROBLEMS are reported together.
 */
export interface SensorCsvOptions {
  /** Units from a side file, by channel name (the header's units win where both are given and agree). */
  readonly units?: Readonly<Record<string, string>>;
  /** A bound on rows (memory: rows x channels x 8 bytes). Default 10 million. */
  readonly maxRows?: number;
}

export const DEFAULT_MAX_ROWS = 10_000_000;

const TIME_COLUMNS = new Set(['timestamp', 'time', 'datetime', 'date_time', 'ts']);
const LABEL_COLUMN = 'label';

export interface SensorCsvResult {
  readonly log: SensorLog;
  readonly timestampFormat: TimestampFormat;
}

/** The separator a header line uses: a comma unless it has none and has semicolons or tabs. */
export function delimiterOf(headerLine: string): ',' | ';' | '\t' {
  if (headerLine.includes(',')) return ',';
  if (headerLine.includes(';')) return ';';
  if (headerLine.includes('\t')) return '\t';
  return ',';
}

/** The first line that is not empty or a comment (to choose the separator before parsing). */
export function headerLineOf(head: string): string {
  for (const line of head.replace(/^\uFEFF/, '').split(/\r\n|\n|\r/)) if (line.trim() !== '' && !line.startsWith('#')) return line;
  return '';
}

/** A header cell: `vibration[g]`, `vibration [g]`, `temperature (degC)` or a plain name. */
export function parseColumnHeader(cell: string): { name: string; unit: string } {
  const m = /^(.*?)\s*(?:\[([^\]]*)\]|\(([^)]*)\))$/.exec(cell.trim());
  if (m === null || (m[1] as string).trim() === '') return { name: cell.trim(), unit: '' };
  return { name: (m[1] as string).trim(), unit: (m[2] ?? m[3] ?? '').trim() };
}

/**
 * Parses a whole log from `source` (a string, or a stream of its bytes: a file is never read
 * whole into one string). Throws a DatasetError with every problem found (file:line).
 */
export async function parseSensorCsv(source: string | Readable, file: string, delimiter: ',' | ';' | '\t', options: SensorCsvOptions = {}): Promise<SensorCsvResult> {
  const problems = new ProblemList();
  const maxRows = options.maxRows ?? DEFAULT_MAX_ROWS;
  const decimalComma = delimiter !== ',';
  const parser = parse({ delimiter, bom: true, trim: true, skip_empty_lines: true, comment: '#', comment_no_infix: true, relax_column_count: true, info: true });
  const input = typeof source === 'string' ? Readable.from([source]) : source;
  input.on('error', (err) => parser.destroy(err));
  input.pipe(parser);

  let header: Header | undefined;
  let format: TimestampFormat | undefined;
  const table = new GrowingTable();
  let previousMs = -Infinity;
  let previousText = '';
  try {
    for await (const item of parser as AsyncIterable<{ record: string[]; info: { lines: number } }>) {
      const { record, info } = item;
      const line = info.lines;
      if (header === undefined) {
        header = readHeader(record, file, line, problems, options.units ?? {});
        if (header === undefined) break;
        continue;
      }
      if (record.length !== header.columns) {
        problems.add(file, `expected ${header.columns} columns as in the header, got ${record.length}`, line);
        if (problems.full) break;
        continue;
      }
      if (table.rows >= maxRows) {
        problems.add(file, `more than ${maxRows} rows: split the log into several files in one folder, or raise maxRows`, line);
        break;
      }
      const stamp = record[header.time] as string;
      if (format === undefined) {
        const f = timestampFormatOf(stamp, header.timeUnit);
        if ('error' in f) {
          problems.add(file, f.error, line);
          break;
        }
        format = f;
      }
      const ms = parseTimestamp(stamp, format);
      let ok = true;
      if (ms === undefined) {
        problems.add(file, `timestamp ${JSON.stringify(stamp)} is not ${describeTimestampFormat(format)} like the first row's`, line);
        ok = false;
      } else if (ms < previousMs) {
        problems.add(file, `timestamp ${stamp} is before the previous row's (${previousText}): rows must be in time order`, line);
        ok = false;
      } else {
        // A row with a bad reading still has a good time: the next row is checked against it.
        previousMs = ms;
        previousText = stamp;
      }
      const values = new Float64Array(header.channels.length);
      for (let c = 0; c < header.channels.length; c += 1) {
        const text = record[header.channelColumns[c] as number] as string;
        const v = numberOf(text, decimalComma);
        if (v === undefined) {
          problems.add(file, `${header.channels[c]}: ${text === '' ? 'empty value' : `${JSON.stringify(clip(text))} is not a number`}`, line);
          ok = false;
          break;
        }
        values[c] = v;
      }
      let label = 0;
      if (header.label >= 0) {
        const text = (record[header.label] as string).toLowerCase();
        if (text === '1' || text === 'true') label = 1;
        else if (text !== '0' && text !== 'false') {
          problems.add(file, `label ${JSON.stringify(clip(text))}: expected 0 (normal) or 1 (abnormal)`, line);
          ok = false;
        }
      }
      if (problems.full) break;
      if (!ok || ms === undefined) continue;
      table.push(ms, values, label);
    }
  } catch (err) {
    if (!(err instanceof CsvError)) throw err;
    problems.add(file, `not readable as CSV: ${err.message}`, typeof err.lines === 'number' ? err.lines : undefined);
  } finally {
    input.unpipe(parser);
    if (typeof source !== 'string') source.destroy();
  }
  if (header === undefined && problems.count === 0) problems.add(file, 'empty: expected a header line (timestamp,<channel>[unit],...) and rows');
  else if (header !== undefined && table.rows === 0 && problems.count === 0) problems.add(file, 'has a header but no rows');
  problems.throwIfAny();
  const h = header as Header;
  const log: SensorLog = {
    file,
    channels: h.channels,
    units: h.units,
    timestampsMs: table.timestamps(),
    values: table.values(h.channels.length),
    rows: table.rows,
    labels: h.label >= 0 ? table.labels() : null,
  };
  return { log, timestampFormat: format as TimestampFormat };
}

interface Header {
  readonly columns: number;
  readonly time: number;
  readonly timeUnit: string;
  readonly label: number;
  readonly channels: readonly string[];
  readonly units: readonly string[];
  readonly channelColumns: readonly number[];
}

function readHeader(record: readonly string[], file: string, line: number, problems: ProblemList, sideUnits: Readonly<Record<string, string>>): Header | undefined {
  const cells = record.map(parseColumnHeader);
  const time = cells.findIndex((c) => TIME_COLUMNS.has(c.name.toLowerCase()));
  if (time < 0) {
    problems.add(file, `no timestamp column: the header ${JSON.stringify(clip(record.join(',')))} needs one called timestamp (or time, datetime, ts)`, line);
    return undefined;
  }
  const label = cells.findIndex((c) => c.name.toLowerCase() === LABEL_COLUMN);
  const channels: string[] = [];
  const units: string[] = [];
  const channelColumns: number[] = [];
  cells.forEach((c, i) => {
    if (i === time || i === label) return;
    if (c.name === '') problems.add(file, `column ${i + 1} has no name`, line);
    else if (channels.includes(c.name)) problems.add(file, `channel "${c.name}" is there twice`, line);
    const side = sideUnits[c.name];
    if (side !== undefined && c.unit !== '' && side !== c.unit) problems.add(file, `channel "${c.name}": the header says [${c.unit}] but the units file says ${JSON.stringify(side)}`, line);
    channels.push(c.name);
    units.push(c.unit !== '' ? c.unit : (side ?? ''));
    channelColumns.push(i);
  });
  if (channels.length === 0) problems.add(file, 'no channels: after the timestamp the header needs at least one column of readings', line);
  if (problems.count > 0) return undefined;
  return { columns: record.length, time, timeUnit: (cells[time] as { unit: string }).unit, label, channels, units, channelColumns };
}

function numberOf(text: string, decimalComma: boolean): number | undefined {
  const t = decimalComma ? text.replace(',', '.') : text;
  if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(t)) return undefined;
  const v = Number(t);
  return Number.isFinite(v) ? v : undefined;
}

function clip(text: string): string {
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

/** Rows as they come, in typed arrays that double when full (no array of row objects). */
class GrowingTable {
  rows = 0;
  private ts = new Float64Array(1024);
  private vs = new Float64Array(0);
  private ls = new Uint8Array(1024);

  push(ms: number, values: Float64Array, label: number): void {
    const c = values.length;
    if (this.rows === this.ts.length) {
      this.ts = grow(this.ts, this.ts.length * 2);
      this.ls = grow(this.ls, this.ls.length * 2);
    }
    if (this.vs.length < (this.rows + 1) * c) this.vs = grow(this.vs, Math.max(1024, this.ts.length) * c);
    this.ts[this.rows] = ms;
    this.vs.set(values, this.rows * c);
    this.ls[this.rows] = label;
    this.rows += 1;
  }

  timestamps(): Float64Array {
    return this.ts.slice(0, this.rows);
  }

  values(channels: number): Float64Array {
    return this.vs.slice(0, this.rows * channels);
  }

  labels(): Uint8Array {
    return this.ls.slice(0, this.rows);
  }
}

function grow<T extends Float64Array | Uint8Array>(a: T, length: number): T {
  const b = new (a.constructor as new (n: number) => T)(length);
  b.set(a);
  return b;
}
