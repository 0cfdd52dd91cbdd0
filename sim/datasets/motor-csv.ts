import { open } from 'node:fs/promises';
import type { SensorLog } from '../../models/datasets/types.js';
import { MOTOR_CHANNELS, MotorSignals, type FaultKind } from '../mcu/signals.js';

/** A fault switched on for a stretch of the log. */
export interface MotorFaultSpan {
  readonly kind: FaultKind;
  readonly startS: number;
  readonly endS: number;
}

export interface MotorCsvOptions {
  readonly seconds: number;
  /** Rows a second. Default 50. */
  readonly rateHz?: number;
  readonly seed: number;
  readonly faults?: readonly MotorFaultSpan[];
  /** The first row's time. Default 2026-03-01T08:00:00Z. */
  readonly startMs?: number;
  /** How the timestamp column is written. Default ISO 8601 (UTC, milliseconds). */
  readonly timestamps?: 'iso' | 'epoch-ms' | 'epoch-s';
  /** Write the `label` column (1 while a fault is on). Default true. */
  readonly labels?: boolean;
}

/** Decimals written per reading: far below each channel's sensor noise (0.02 g, 0.05 degC, 0.05 A). */
const DECIMALS = 4;
const ROWS_PER_WRITE = 4096;

/**
 * A CSV log of the simulated motor (sim/mcu/signals.ts), as a plant's data logger would export
 * it: `timestamp,vibration[g],temperature[degC],current[A],label`, the motor already running,
 * the faults in `faults` switched on and off at their times and labelled 1 while on. Returns
 * the log as written (values rounded as in the file), for tests to compare a reader with.
 */
export async function writeMotorCsv(file: string, o: MotorCsvOptions): Promise<SensorLog> {
  const rateHz = o.rateHz ?? 50;
  const rows = Math.round(o.seconds * rateHz);
  const startMs = o.startMs ?? Date.UTC(2026, 2, 1, 8);
  const withLabels = o.labels ?? true;
  const faults = o.faults ?? [];
  const motor = new MotorSignals(o.seed, {}, { running: true });
  const c = MOTOR_CHANNELS.length;
  const timestampsMs = new Float64Array(rows);
  const values = new Float64Array(rows * c);
  const labels = new Uint8Array(rows);
  const stamp = (ms: number): string => (o.timestamps === 'epoch-ms' ? String(ms) : o.timestamps === 'epoch-s' ? (ms / 1000).toFixed(3) : new Date(ms).toISOString());
  const header = ['timestamp', ...MOTOR_CHANNELS.map((ch) => `${ch.name}[${ch.unit}]`), ...(withLabels ? ['label'] : [])].join(',');
  const handle = await open(file, 'w');
  try {
    let chunk = [`${header}\n`];
    for (let i = 0; i < rows; i += 1) {
      const t = i / rateHz;
      let faulty = false;
      for (const f of faults) {
        const on = t >= f.startS && t < f.endS;
        motor.setFault(f.kind, on, i);
        faulty ||= on;
      }
      // Whole milliseconds (as a logger writes them): a rate that does not divide 1000 rounds.
      const ms = startMs + Math.round((i * 1000) / rateHz);
      const sample = motor.sample(i, rateHz).map((v) => Number(v.toFixed(DECIMALS)));
      timestampsMs[i] = o.timestamps === 'epoch-s' ? Number((ms / 1000).toFixed(3)) * 1000 : ms;
      values.set(sample, i * c);
      labels[i] = faulty ? 1 : 0;
      chunk.push(`${[stamp(ms), ...sample.map((v) => v.toFixed(DECIMALS)), ...(withLabels ? [faulty ? '1' : '0'] : [])].join(',')}\n`);
      if (chunk.length >= ROWS_PER_WRITE) {
        await handle.write(chunk.join(''));
        chunk = [];
      }
    }
    await handle.write(chunk.join(''));
  } finally {
    await handle.close();
  }
  return {
    file,
    channels: MOTOR_CHANNELS.map((ch) => ch.name),
    units: MOTOR_CHANNELS.map((ch) => ch.unit),
    timestampsMs,
    values,
    rows,
    labels: withLabels ? labels : null,
  };
}
