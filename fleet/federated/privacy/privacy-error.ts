/**
 * The one error of the differential-privacy building blocks. A privacy parameter that is out of
 * range must stop a round before any noise is drawn or any budget is spent: a wrong noise
 * multiplier or sampling rate silently weakens the guarantee, so nothing here clamps or guesses.
 * `field` names the parameter that was wrong, so the round service can say which setting of the
 * task to fix.
 */
export class FederatedPrivacyError extends Error {
  override readonly name = 'FederatedPrivacyError';
  readonly code = 'E_FEDERATED_PRIVACY' as const;
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`${field}: ${message}`);
  }
}

const show = (value: unknown): string => (typeof value === 'number' ? String(value) : typeof value);

/** z: the Gaussian's standard deviation in units of the clip norm. Zero would be no privacy at all. */
export function checkNoiseMultiplier(value: unknown, field = 'noiseMultiplier'): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new FederatedPrivacyError(field, `must be a finite number > 0 (the noise standard deviation in units of the clip norm), got ${show(value)}`);
  }
  return value;
}

/** q: the probability with which each eligible gateway is drawn into a round, independently of the others. */
export function checkSamplingRate(value: unknown, field = 'samplingRate'): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0 || value > 1) {
    throw new FederatedPrivacyError(field, `must be in (0, 1] (each gateway's chance of being drawn into a round), got ${show(value)}`);
  }
  return value;
}

export function checkDelta(value: unknown, field = 'delta'): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0 || value >= 1) {
    throw new FederatedPrivacyError(field, `must be in (0, 1) (and should be well below 1 / the number of gateways), got ${show(value)}`);
  }
  return value;
}

export function checkEpsilon(value: unknown, field = 'epsilon'): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new FederatedPrivacyError(field, `must be a finite number > 0, got ${show(value)}`);
  }
  return value;
}

export function checkClipNorm(value: unknown, field = 'clipNorm'): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new FederatedPrivacyError(field, `must be a finite number > 0 (the L2 bound every update was clipped to), got ${show(value)}`);
  }
  return value;
}

export function checkCount(value: unknown, field: string, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > max) {
    throw new FederatedPrivacyError(field, `must be an integer in [0, ${max}], got ${show(value)}`);
  }
  return value;
}
