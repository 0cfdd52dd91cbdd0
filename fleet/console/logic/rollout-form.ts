/**
 * The new-rollout form's fields as typed, into the body POST /v1/rollouts (and its preview)
 * takes. Wrong input is refused here with the field named, before the fleet would refuse it
 * the same way; the fleet still checks everything. Pure: no DOM.
 */
import type { RolloutRequest, RolloutWindow } from '../api/types.js';
import { parseWavesText, WavesTextError } from '../../rollouts/waves-text.js';

export interface RolloutForm {
  readonly target: string;
  readonly name: string;
  readonly selector: string;
  readonly waves: string;
  /** Percent, as typed; empty: the fleet's default. */
  readonly maxFailurePercent: string;
  readonly maxRollbackPercent: string;
  readonly maxTimeoutPercent: string;
  readonly onGateFailure: 'pause' | 'rollback';
  readonly ratePerMinute: string;
  readonly gatewayTimeoutMinutes: string;
  readonly windows: readonly RolloutWindow[];
}

export const DEFAULT_FORM: RolloutForm = {
  target: '',
  name: '',
  selector: '',
  waves: '1, 50%, 100%',
  maxFailurePercent: '',
  maxRollbackPercent: '',
  maxTimeoutPercent: '',
  onGateFailure: 'pause',
  ratePerMinute: '',
  gatewayTimeoutMinutes: '',
  windows: [],
};

export class RolloutFormError extends Error {
  readonly code = 'E_ROLLOUT_FORM';
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
    this.name = 'RolloutFormError';
  }
}

function percent(text: string, field: string, label: string): number | undefined {
  const t = text.trim();
  if (t === '') return undefined;
  const v = Number(t);
  if (!/^\d+(\.\d+)?$/.test(t) || v > 100) throw new RolloutFormError(field, `${label}: ${JSON.stringify(t)} is not a percentage from 0 to 100`);
  return Number((v / 100).toPrecision(12));
}

function integer(text: string, field: string, label: string, min: number, max: number): number | undefined {
  const t = text.trim();
  if (t === '') return undefined;
  if (!/^\d+$/.test(t) || Number(t) < min || Number(t) > max) throw new RolloutFormError(field, `${label}: ${JSON.stringify(t)} is not a whole number from ${min} to ${max}`);
  return Number(t);
}

const HHMM = /^([01]\d|2[0-3]):[0-5]\d$/;

export function buildRolloutRequest(f: RolloutForm): RolloutRequest {
  if (f.target === '') throw new RolloutFormError('target', 'Release: choose the release to roll out');
  let waves: RolloutRequest['waves'];
  try {
    waves = parseWavesText(f.waves);
  } catch (err) {
    if (err instanceof WavesTextError) throw new RolloutFormError('waves', err.message);
    throw err;
  }
  const gates = {
    maxFailureShare: percent(f.maxFailurePercent, 'maxFailurePercent', 'Max failure share'),
    maxRollbackShare: percent(f.maxRollbackPercent, 'maxRollbackPercent', 'Max rollback share'),
    maxTimeoutShare: percent(f.maxTimeoutPercent, 'maxTimeoutPercent', 'Max timeout share'),
  };
  const ratePerMinute = integer(f.ratePerMinute, 'ratePerMinute', 'Rate', 1, 1_000_000);
  const timeoutMin = integer(f.gatewayTimeoutMinutes, 'gatewayTimeoutMinutes', 'Gateway timeout', 1, 7 * 24 * 60);
  f.windows.forEach((w, i) => {
    const where = `Window ${i + 1}`;
    if (w.selector.trim() === '') throw new RolloutFormError(`windows.${i}.selector`, `${where}: enter a label selector for the gateways it holds back (site=plant-2)`);
    if (!HHMM.test(w.from)) throw new RolloutFormError(`windows.${i}.from`, `${where}: from ${JSON.stringify(w.from)} is not a time HH:MM`);
    if (!HHMM.test(w.to)) throw new RolloutFormError(`windows.${i}.to`, `${where}: to ${JSON.stringify(w.to)} is not a time HH:MM`);
    if (w.timeZone.trim() === '') throw new RolloutFormError(`windows.${i}.timeZone`, `${where}: enter a time zone (Europe/Berlin, UTC)`);
  });
  const name = f.name.trim();
  const selector = f.selector.trim();
  return {
    ...(name === '' ? {} : { name }),
    target: f.target,
    selector: selector === '' ? { kind: 'all' } : { kind: 'labels', selector },
    waves,
    gates: Object.fromEntries(Object.entries(gates).filter(([, v]) => v !== undefined)),
    onGateFailure: f.onGateFailure,
    ...(ratePerMinute === undefined ? {} : { ratePerMinute }),
    ...(timeoutMin === undefined ? {} : { gatewayTimeoutMs: timeoutMin * 60_000 }),
    ...(f.windows.length === 0 ? {} : { windows: f.windows.map((w) => ({ selector: w.selector.trim(), from: w.from, to: w.to, timeZone: w.timeZone.trim() })) }),
  };
}
