import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { timestampFormatOf, parseTimestamp } from '../../../models/datasets/csv-timestamps.js';
import { DatasetError, type DatasetWarning } from '../../../models/datasets/dataset-error.js';
import { parseColumnHeader, parseSensorCsv } from '../../../models/datasets/sensor-csv.js';
import { readSensorLog, readSensorLogs } from '../../../models/datasets/sensor-logs.js';
import { makeTempDir } from '../../support/temp-dir.js';

let tmp: { path: string; remove: () => Promise<void> };
beforeEach(async () => {
  tmp = await makeTempDir('edgewise-csv-');
});
afterEach(async () => {
  await tmp.remove();
});

async function errorOf(p: Promise<unknown>): Promise<DatasetError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof DatasetError) return err;
    throw err;
  }
  throw new Error('expected a DatasetError');
}

const problemsOf = async (text: string): Promise<string[]> => (await errorOf(parseSensorCsv(text, 'log.csv', ','))).problems.map((p) => `${p.line ?? '-'}: ${p.message}`);

describe('sensor log CSV', () => {
  const channelName = fc.stringMatching(/^[a-z][a-z0-9_]{0,9}$/).filter((n) => !['timestamp', 'time', 'datetime', 'date_time', 'ts', 'label'].includes(n));
  const unit = fc.constantFrom('', 'g', 'degC', 'A', 'mm/s', 'bar', '%');

  it('reads back any log written in any of the accepted styles: values, units, times and labels exact', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uniqueArray(channelName, { minLength: 1, maxLength: 4 }),
        fc.integer({ min: 1, max: 30 }),
        fc.constantFrom('iso', 'ms', 's') as fc.Arbitrary<'iso' | 'ms' | 's'>,
        fc.constantFrom('[]', ' ()', '[] spaced', 'side') as fc.Arbitrary<'[]' | ' ()' | '[] spaced' | 'side'>,
        fc.boolean(),
        fc.constantFrom(',', ';') as fc.Arbitrary<',' | ';'>,
        fc.integer({ min: 1_600_000_000_000, max: 1_900_000_000_000 }),
        fc.context(),
        async (channels, rows, stamps, unitStyle, labelled, delimiter, startMs, ctx) => {
          const units = channels.map((_, i) => ['', 'g', 'degC', 'A', 'mm/s', 'bar'][(i * 7 + rows) % 6] as string);
          const head = channels.map((c, i) => {
            const u = units[i] as string;
            if (u === '' || unitStyle === 'side') return c;
            return unitStyle === '[]' ? `${c}[${u}]` : unitStyle === ' ()' ? `${c} (${u})` : `${c} [${u}]`;
          });
          const values = Array.from({ length: rows * channels.length }, (_, i) => Math.round(Math.sin(i * 12.9898 + rows) * 1e6) / 1000);
          const times = Array.from({ length: rows }, (_, r) => startMs + r * 20 + (r % 3 === 0 ? 0 : 1)); // uneven steps, increasing
          const labels = Array.from({ length: rows }, (_, r) => (r % 4 === 1 ? 1 : 0));
          const stamp = (ms: number): string => (stamps === 'iso' ? new Date(ms).toISOString() : stamps === 'ms' ? String(ms) : (ms / 1000).toFixed(3));
          const cell = (v: number): string => (delimiter === ';' ? String(v).replace('.', ',') : String(v));
          const lines = [['timestamp', ...head, ...(labelled ? ['label'] : [])].join(delimiter)];
          for (let r = 0; r < rows; r += 1) lines.push([stamp(times[r] as number), ...channels.map((_, c) => cell(values[r * channels.length + c] as number)), ...(labelled ? [String(labels[r])] : [])].join(delimiter));
          const text = `# exported by the line's logger\n${lines.join('\r\n')}\n`;
          ctx.log(text);
          const side = unitStyle === 'side' ? Object.fromEntries(channels.map((c, i) => [c, units[i] as string]).filter(([, u]) => u !== '')) : {};
          const { log, timestampFormat } = await parseSensorCsv(text, 'log.csv', delimiter, { units: side });
          expect(log.channels).toEqual(channels);
          expect(log.units).toEqual(units);
          expect(log.rows).toBe(rows);
          expect(Array.from(log.values)).toEqual(values);
          expect(Array.from(log.timestampsMs)).toEqual(times.map((t) => (stamps === 's' ? Number((t / 1000).toFixed(3)) * 1000 : t)));
          expect(log.labels === null ? null : Array.from(log.labels)).toEqual(labelled ? labels : null);
          expect(timestampFormat.kind).toBe(stamps === 'iso' ? 'iso' : 'epoch');
        },
      ),
      { numRuns: 150 },
    );
  });

  it('never throws anything but a DatasetError, whatever the text', async () => {
    const line = fc.array(fc.oneof(fc.constantFrom('timestamp', 'label', '1', '0', '2026-01-01T00:00:00Z', '1.5', '"q,"', '"', 'x[g]', ''), fc.string({ maxLength: 6 })), { maxLength: 5 });
    await fc.assert(
      fc.asyncProperty(fc.array(line, { maxLength: 8 }), fc.constantFrom(',', ';', '\t') as fc.Arbitrary<',' | ';' | '\t'>, async (lines, d) => {
        try {
          const { log } = await parseSensorCsv(lines.map((l) => l.join(d)).join('\n'), 'fuzz.csv', d);
          expect(log.values.length).toBe(log.rows * log.channels.length);
          for (let r = 1; r < log.rows; r += 1) expect(log.timestampsMs[r] as number).toBeGreaterThanOrEqual(log.timestampsMs[r - 1] as number);
        } catch (err) {
          if (!(err instanceof DatasetError)) throw err;
        }
      }),
      { numRuns: 300 },
    );
  });

  it('reports each bad row at its line, all together', async () => {
    const text = [
      'timestamp,vibration[g],temperature[degC],label', // 1
      '2026-03-01T08:00:00.000Z,0.1,40.0,0', // 2
      '2026-03-01T08:00:00.020Z,0.2,40.1', // 3: a column short
      '2026-03-01T08:00:00.040Z,abc,40.1,0', // 4: not a number
      '2026-03-01T08:00:00.010Z,0.1,40.2,0', // 5: backwards
      '2026-03-01T08:00:00.060Z,0.1,,1', // 6: empty
      '1772352000060,0.1,40.2,0', // 7: another format
      '2026-03-01T08:00:00.080Z,0.1,40.2,yes', // 8: label
      '2026-02-30T08:00:00.080Z,0.1,40.2,0', // 9: no such day
    ].join('\n');
    expect(await problemsOf(text)).toEqual([
      '3: expected 4 columns as in the header, got 3',
      '4: vibration: "abc" is not a number',
      '5: timestamp 2026-03-01T08:00:00.010Z is before the previous row\'s (2026-03-01T08:00:00.040Z): rows must be in time order',
      '6: temperature: empty value',
      '7: timestamp "1772352000060" is not ISO 8601 like the first row\'s',
      '8: label "yes": expected 0 (normal) or 1 (abnormal)',
      '9: timestamp "2026-02-30T08:00:00.080Z" is not ISO 8601 like the first row\'s',
    ]);
    const err = await errorOf(parseSensorCsv(text, '/data/press-3.csv', ','));
    expect(err.message).toMatch(/^the dataset has 7 problems:\n {2}\/data\/press-3\.csv:3: expected 4 columns/);
  });

  it('says what is wrong with the header or the file as a whole', async () => {
    expect(await problemsOf('when,vibration\n1,2\n')).toEqual(['1: no timestamp column: the header "when,vibration" needs one called timestamp (or time, datetime, ts)']);
    expect(await problemsOf('timestamp,label\n1,0\n')).toEqual(['1: no channels: after the timestamp the header needs at least one column of readings']);
    expect(await problemsOf('timestamp,a,a\n1,2,3\n')).toEqual(['1: channel "a" is there twice']);
    expect(await problemsOf('timestamp,a\n')).toEqual(['-: has a header but no rows']);
    expect(await problemsOf('')).toEqual(['-: empty: expected a header line (timestamp,<channel>[unit],...) and rows']);
    expect(await problemsOf('timestamp[min],a\n1,2\n')).toEqual(['2: timestamp unit [min] unknown: use s, ms, us or ns (or no unit, for ISO 8601 times)']);
    expect(await problemsOf('timestamp,a\n1,"2\n3,4\n')).toEqual([expect.stringMatching(/^\d+: not readable as CSV: Quote Not Closed/) as unknown as string]);
  });

  it('stops at a bound on rows', async () => {
    const rows = Array.from({ length: 12 }, (_, i) => `${i},1`).join('\n');
    const err = await errorOf(parseSensorCsv(`timestamp,a\n${rows}\n`, 'big.csv', ',', { maxRows: 10 }));
    expect(err.message).toBe('big.csv:12: more than 10 rows: split the log into several files in one folder, or raise maxRows');
  });

  it('tells timestamp formats apart by the header unit or the size of the first one', () => {
    expect(timestampFormatOf('1772352000', '')).toEqual({ kind: 'epoch', unit: 's', from: 'size' });
    expect(timestampFormatOf('1772352000123', '')).toEqual({ kind: 'epoch', unit: 'ms', from: 'size' });
    expect(timestampFormatOf('1772352000123456', '')).toEqual({ kind: 'epoch', unit: 'us', from: 'size' });
    expect(timestampFormatOf('1772352000123456789', '')).toEqual({ kind: 'epoch', unit: 'ns', from: 'size' });
    expect(timestampFormatOf('0', 'ms')).toEqual({ kind: 'epoch', unit: 'ms', from: 'header' });
    const iso = { kind: 'iso' } as const;
    expect(parseTimestamp('2026-03-01 09:00:00.5+01:00', iso)).toBe(Date.UTC(2026, 2, 1, 8, 0, 0, 500));
    expect(parseTimestamp('2026-03-01T08:00:00', iso)).toBe(Date.UTC(2026, 2, 1, 8)); // no zone: UTC
    expect(parseTimestamp('2026-03-01T08:00:00.123456Z', iso)).toBeCloseTo(Date.UTC(2026, 2, 1, 8) + 123.456, 6);
    expect(parseTimestamp('2026-03-01', iso)).toBe(Date.UTC(2026, 2, 1));
    expect(parseTimestamp('2026-13-01', iso)).toBeUndefined();
  });

  it('parses header cells with units in brackets or parentheses', () => {
    expect(parseColumnHeader('vibration[g]')).toEqual({ name: 'vibration', unit: 'g' });
    expect(parseColumnHeader(' flow rate (l/min) ')).toEqual({ name: 'flow rate', unit: 'l/min' });
    expect(parseColumnHeader('pressure')).toEqual({ name: 'pressure', unit: '' });
    expect(parseColumnHeader('[g]')).toEqual({ name: '[g]', unit: '' });
  });
});

describe('sensor log files', () => {
  it('takes units from a side file beside the log, and warns about units for channels it does not have', async () => {
    await writeFile(join(tmp.path, 'motor.csv'), 'timestamp,vibration,current[A]\n2026-03-01T08:00:00Z,0.1,5\n');
    await writeFile(join(tmp.path, 'motor.units.yaml'), 'vibration: g\npressure: bar\n');
    const warnings: DatasetWarning[] = [];
    const log = await readSensorLog(join(tmp.path, 'motor.csv'), { onWarning: (w) => warnings.push(w) });
    expect(log.units).toEqual(['g', 'A']);
    expect(warnings).toEqual([{ file: join(tmp.path, 'motor.units.yaml'), message: 'units for channels not in motor.csv: pressure' }]);
    await writeFile(join(tmp.path, 'motor.units.yaml'), 'current: mA\n');
    expect((await errorOf(readSensorLog(join(tmp.path, 'motor.csv')))).message).toBe(`${join(tmp.path, 'motor.csv')}:1: channel "current": the header says [A] but the units file says "mA"`);
  });

  it('reads a folder of logs, in name order, with the channels in the first log\'s order', async () => {
    await mkdir(join(tmp.path, 'logs'));
    await writeFile(join(tmp.path, 'logs', 'day1.csv'), 'timestamp,a,b\n1772352000,1,2\n1772352001,3,4\n');
    await writeFile(join(tmp.path, 'logs', 'day2.csv'), 'timestamp;b;a\n1772438400;20,5;10\n');
    await writeFile(join(tmp.path, 'logs', 'units.json'), '{"a": "g", "b": "A"}');
    await writeFile(join(tmp.path, 'logs', 'notes.txt'), 'not a log');
    const logs = await readSensorLogs(join(tmp.path, 'logs'));
    expect(logs.map((l) => [l.file.slice(tmp.path.length + 1), l.channels, l.units, Array.from(l.values)])).toEqual([
      ['logs/day1.csv', ['a', 'b'], ['g', 'A'], [1, 2, 3, 4]],
      ['logs/day2.csv', ['a', 'b'], ['g', 'A'], [10, 20.5]],
    ]);
    await writeFile(join(tmp.path, 'logs', 'day3.csv'), 'timestamp,a,c\n1772524800,1,2\n');
    expect((await errorOf(readSensorLogs(join(tmp.path, 'logs')))).message).toBe(`${join(tmp.path, 'logs', 'day3.csv')}: channels a, c differ from day1.csv's (a, b): the logs of one folder must record the same channels`);
  });

  it('collects the problems of every log in a folder', async () => {
    await writeFile(join(tmp.path, 'a.csv'), 'timestamp,x\n1,oops\n');
    await writeFile(join(tmp.path, 'b.csv'), 'timestamp,x\n2,1\n1,1\n');
    const err = await errorOf(readSensorLogs(tmp.path));
    expect(err.problems.map((p) => `${p.file.slice(tmp.path.length + 1)}:${p.line}`)).toEqual(['a.csv:2', 'b.csv:3']);
    expect((await errorOf(readSensorLogs(join(tmp.path, 'none.csv')))).message).toBe(`${join(tmp.path, 'none.csv')}: no such file or folder`);
  });
});
