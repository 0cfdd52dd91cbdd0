import { createReadStream } from 'node:fs';
import { open, readdir, readFile, stat } from 'node:fs/promises';
import { basename, dirname, extname, join, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { DatasetError, ProblemList, type OnDatasetWarning } from './dataset-error.js';
import { isHidden } from './image-files.js';
import { delimiterOf, headerLineOf, parseSensorCsv, type SensorCsvOptions } from './sensor-csv.js';
import type { SensorLog } from './types.js';

/**
 * Sensor logs on disk: one CSV file, or a folder of them (every *.csv in it, sorted by name:
 * several days or several machines of one kind). All logs of a folder must have the same
 * channels (in any column order: later logs are put in the first one's order) and units.
 *
 * Units may come from a side file instead of the header, JSON or YAML, mapping channel to unit
 * (`{"vibration": "g", "temperature": "degC"}`): `<log>.units.json` (or .yaml/.yml) beside
 * `<log>.csv` for that log, else `units.json` (or .yaml/.yml) in the log's folder for all.
 */
export interface SensorLogOptions extends Pick<SensorCsvOptions, 'maxRows'> {
  readonly onWarning?: OnDatasetWarning;
}

/** Bytes read ahead to find the header line (and so the separator). */
const HEAD_BYTES = 64 * 1024;

export async function readSensorLogs(fileOrDir: string, options: SensorLogOptions = {}): Promise<SensorLog[]> {
  const path = resolve(fileOrDir);
  let isDir: boolean;
  try {
    isDir = (await stat(path)).isDirectory();
  } catch {
    throw DatasetError.at(path, 'no such file or folder');
  }
  if (!isDir) return [await readSensorLog(path, options)];
  const files = (await readdir(path))
    .filter((n) => !isHidden(n) && extname(n).toLowerCase() === '.csv')
    .sort()
    .map((n) => join(path, n));
  if (files.length === 0) throw DatasetError.at(path, 'no *.csv logs in this folder');
  const problems = new ProblemList();
  const logs: SensorLog[] = [];
  for (const file of files) {
    try {
      logs.push(await readSensorLog(file, options));
    } catch (err) {
      if (!(err instanceof DatasetError)) throw err;
      problems.addError(err);
    }
    if (problems.full) break;
  }
  problems.throwIfAny();
  const first = logs[0] as SensorLog;
  const aligned = logs.map((log) => alignTo(first, log, problems));
  problems.throwIfAny();
  return aligned;
}

/** One CSV log (see sensor-csv.ts for its format). */
export async function readSensorLog(file: string, options: SensorLogOptions = {}): Promise<SensorLog> {
  const path = resolve(file);
  const units = await sideUnits(path);
  let head: string;
  try {
    const handle = await open(path, 'r');
    try {
      const buf = new Uint8Array(HEAD_BYTES);
      const { bytesRead } = await handle.read(buf, 0, HEAD_BYTES, 0);
      head = new TextDecoder().decode(buf.subarray(0, bytesRead));
    } finally {
      await handle.close();
    }
  } catch (err) {
    throw DatasetError.at(path, `cannot read the log: ${(err as Error).message}`);
  }
  const { log } = await parseSensorCsv(createReadStream(path), path, delimiterOf(headerLineOf(head)), { ...options, units: units?.units ?? {} });
  if (units !== undefined) {
    const unused = Object.keys(units.units).filter((c) => !log.channels.includes(c));
    if (unused.length > 0) options.onWarning?.({ file: units.file, message: `units for channels not in ${basename(path)}: ${unused.join(', ')}` });
  }
  return log;
}

/** The units side file that applies to `csv`, if any. */
async function sideUnits(csv: string): Promise<{ file: string; units: Record<string, string> } | undefined> {
  const stem = csv.slice(0, csv.length - extname(csv).length);
  const candidates = [...['json', 'yaml', 'yml'].map((e) => `${stem}.units.${e}`), ...['json', 'yaml', 'yml'].map((e) => join(dirname(csv), `units.${e}`))];
  for (const file of candidates) {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch {
      continue;
    }
    let doc: unknown;
    try {
      doc = parseYaml(text); // YAML reads JSON too
    } catch (err) {
      throw DatasetError.at(file, `not valid JSON or YAML: ${(err as Error).message.split('\n')[0] ?? ''}`);
    }
    if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) throw DatasetError.at(file, 'expected a mapping of channel names to units, like {"vibration": "g"}');
    const units: Record<string, string> = {};
    for (const [channel, unit] of Object.entries(doc as Record<string, unknown>)) {
      if (typeof unit !== 'string') throw DatasetError.at(file, `${channel}: the unit must be text, got ${JSON.stringify(unit)}`);
      units[channel] = unit.trim();
    }
    return { file, units };
  }
  return undefined;
}

/** `log` with its channels in `first`'s order, or a problem when the channels or units differ. */
function alignTo(first: SensorLog, log: SensorLog, problems: ProblemList): SensorLog {
  if (log === first) return log;
  const same = log.channels.length === first.channels.length && first.channels.every((c) => log.channels.includes(c));
  if (!same) {
    problems.add(log.file, `channels ${log.channels.join(', ')} differ from ${basename(first.file)}'s (${first.channels.join(', ')}): the logs of one folder must record the same channels`);
    return log;
  }
  const order = first.channels.map((c) => log.channels.indexOf(c));
  const units = order.map((j, i) => {
    const mine = log.units[j] as string;
    const theirs = first.units[i] as string;
    if (mine !== '' && theirs !== '' && mine !== theirs) problems.add(log.file, `channel "${first.channels[i]}" is in [${mine}] here but in [${theirs}] in ${basename(first.file)}`);
    return mine !== '' ? mine : theirs;
  });
  if (order.every((j, i) => j === i) && units.every((u, i) => u === log.units[i])) return log;
  const c = order.length;
  const values = new Float64Array(log.rows * c);
  for (let r = 0; r < log.rows; r += 1) for (let i = 0; i < c; i += 1) values[r * c + i] = log.values[r * c + (order[i] as number)] as number;
  return { ...log, channels: first.channels, units, values };
}
