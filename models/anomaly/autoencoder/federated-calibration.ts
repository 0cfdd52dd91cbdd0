import { readModelMetadata } from '../../onnx/builder.js';
import type { AutoencoderMeta } from './model.js';

/**
 * Metadata key a federated release carries its pooled calibration under (written by the fleet,
 * fleet/federated/service/global-model.ts; the two sides share only this name and JSON shape).
 */
export const FEDERATED_CALIBRATION_KEY = 'federated.calibration';

/** Which calibration the scorer uses, and why. */
export type CalibrationChoice =
  /** The fit trained into the model (`edgewise` metadata); `ignored` says why a federated one was not used. */
  | { readonly source: 'trained'; readonly calibration: AutoencoderMeta['calibration']; readonly ignored: string | null }
  /** The fleet's pooled fit, measured by the gateways under release `measuredOnRelease` (one round stale, README). */
  | { readonly source: 'federated'; readonly calibration: AutoencoderMeta['calibration']; readonly windows: number; readonly measuredOnRelease: number };

const isCount = (x: unknown, min: number): x is number => typeof x === 'number' && Number.isInteger(x) && x >= min;

/** What is wrong with a `federated.calibration` value, or null when it is usable. */
function problemOf(v: unknown): string | null {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return 'not a JSON object';
  const o = v as Record<string, unknown>;
  if (typeof o['logMean'] !== 'number' || !Number.isFinite(o['logMean'])) return `logMean ${JSON.stringify(o['logMean'])}: expected a finite number`;
  if (typeof o['logStd'] !== 'number' || !Number.isFinite(o['logStd']) || o['logStd'] <= 0) return `logStd ${JSON.stringify(o['logStd'])}: expected a finite number > 0`;
  if (!isCount(o['windows'], 2)) return `windows ${JSON.stringify(o['windows'])}: expected an integer >= 2`;
  if (!isCount(o['measuredOnRelease'], 0)) return `measuredOnRelease ${JSON.stringify(o['measuredOnRelease'])}: expected an integer >= 0`;
  return null;
}

/**
 * The calibration to score with: a valid `federated.calibration` (the fleet's pooled fit of
 * the gateways' held-out windows, which follows the federated training) over the one trained
 * into the model, which federated releases keep from the model the task started from. An
 * invalid one is ignored, with the reason, never fatal: the trained fit still scores.
 */
export function chooseCalibration(bytes: Uint8Array, meta: AutoencoderMeta): CalibrationChoice {
  const raw = readModelMetadata(bytes)[FEDERATED_CALIBRATION_KEY];
  if (raw === undefined) return { source: 'trained', calibration: meta.calibration, ignored: null };
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch (err) {
    return { source: 'trained', calibration: meta.calibration, ignored: `${FEDERATED_CALIBRATION_KEY}: not JSON (${(err as Error).message})` };
  }
  const problem = problemOf(value);
  if (problem !== null) return { source: 'trained', calibration: meta.calibration, ignored: `${FEDERATED_CALIBRATION_KEY}: ${problem}` };
  const o = value as { logMean: number; logStd: number; windows: number; measuredOnRelease: number };
  return { source: 'federated', calibration: { logMean: o.logMean, logStd: o.logStd }, windows: o.windows, measuredOnRelease: o.measuredOnRelease };
}
