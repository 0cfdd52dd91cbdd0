import type { SensorLog } from '../../../../models/datasets/types.js';
import { MOTOR_CHANNELS, MotorSignals, type FaultKind } from '../../../../sim/mcu/signals.js';

export interface InjectedFault {
  readonly kind: FaultKind;
  readonly atS: number;
  readonly durationS: number;
}

export interface MotorLogOptions {
  readonly file: string;
  readonly seconds: number;
  readonly rateHz: number;
  readonly seed: number;
  readonly faults: readonly InjectedFault[];
  /** The motor was running before the log starts (else it warms up in the first minutes). */
  readonly running?: boolean;
  readonly t0Ms: number;
}

/**
 * A log of the simulated motor (sim/mcu/signals.ts) as a plant's historian would export it:
 * a timestamp per row (whole ms, as CSV exports round them), vibration, temperature, current
 * with units, and a label per row: 1 while an injected fault is on (switched on and off as the
 * simulator's scenarios do, sim/run/run-scenario.ts), 0 otherwise.
 */
export function motorLog(o: MotorLogOptions): SensorLog {
  const sig = new MotorSignals(o.seed, {}, { running: o.running ?? false });
  const rows = Math.round(o.seconds * o.rateHz);
  const c = MOTOR_CHANNELS.length;
  const values = new Float64Array(rows * c);
  const timestampsMs = new Float64Array(rows);
  const labels = new Uint8Array(rows);
  for (let i = 0; i < rows; i += 1) {
    for (const f of o.faults) {
      if (i === Math.round(f.atS * o.rateHz)) sig.setFault(f.kind, true, i);
      if (i === Math.round((f.atS + f.durationS) * o.rateHz)) sig.setFault(f.kind, false, i);
    }
    values.set(sig.sample(i, o.rateHz), i * c);
    timestampsMs[i] = Math.round(o.t0Ms + (i * 1000) / o.rateHz);
    labels[i] = sig.faults.length > 0 ? 1 : 0;
  }
  return { file: o.file, channels: MOTOR_CHANNELS.map((ch) => ch.name), units: MOTOR_CHANNELS.map((ch) => ch.unit), timestampsMs, values, rows, labels };
}
