import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readSensorLogs } from '../../../models/datasets/sensor-logs.js';
import { writeMotorCsv } from '../../../sim/datasets/motor-csv.js';
import { makeTempDir } from '../../support/temp-dir.js';

let tmp: { path: string; remove: () => Promise<void> };
beforeEach(async () => {
  tmp = await makeTempDir('edgewise-motor-csv-');
});
afterEach(async () => {
  await tmp.remove();
});

describe('writeMotorCsv', () => {
  it.each(['iso', 'epoch-ms', 'epoch-s'] as const)('writes a log (%s timestamps) that the reader gives back exactly, labelled 1 while a fault is on', async (timestamps) => {
    const file = join(tmp.path, 'motor.csv');
    const written = await writeMotorCsv(file, { seconds: 60, rateHz: 50, seed: 4, timestamps, faults: [{ kind: 'bearing-wear', startS: 20, endS: 30 }, { kind: 'spikes', startS: 45, endS: 50 }] });
    const [log] = await readSensorLogs(file);
    if (log === undefined) throw new Error('no log');
    expect(log.channels).toEqual(['vibration', 'temperature', 'current']);
    expect(log.units).toEqual(['g', 'degC', 'A']);
    expect(log.rows).toBe(3000);
    expect(Array.from(log.values)).toEqual(Array.from(written.values));
    expect(Array.from(log.timestampsMs)).toEqual(Array.from(written.timestampsMs));
    const labels = Array.from(log.labels ?? []);
    expect(labels).toEqual(Array.from(written.labels ?? []));
    // 10 s of bearing wear and 5 s of spikes at 50 Hz, at their places.
    expect(labels.reduce((a, b) => a + b, 0)).toBe(750);
    expect(labels[999]).toBe(0);
    expect(labels[1000]).toBe(1);
    expect(labels[1499]).toBe(1);
    expect(labels[1500]).toBe(0);
    if (timestamps === 'iso') expect((await readFile(file, 'utf8')).split('\n', 2)).toEqual(['timestamp,vibration[g],temperature[degC],current[A],label', expect.stringMatching(/^2026-03-01T08:00:00\.000Z,/) as unknown as string]);
  });

  it('shows the bearing fault in the vibration the log holds (what an autoencoder must flag)', async () => {
    const file = join(tmp.path, 'motor.csv');
    const log = await writeMotorCsv(file, { seconds: 40, seed: 9, faults: [{ kind: 'bearing-wear', startS: 20, endS: 40 }] });
    const rms = (from: number, to: number): number => {
      let s = 0;
      for (let r = from; r < to; r += 1) s += (log.values[r * 3] as number) ** 2;
      return Math.sqrt(s / (to - from));
    };
    expect(rms(1000, 2000) / rms(0, 1000)).toBeGreaterThan(1.8);
  });
});
