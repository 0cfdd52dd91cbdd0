/**
 * Health gates between waves. Shares are of the wave's gateways that were told of the
 * release (offline ones are counted apart, never waited for).
 */
export interface HealthGates {
  /** Gateways that refused or failed the update (download, install, health check). */
  readonly maxFailureShare: number;
  /** Gateways that activated it and then switched back in probation. */
  readonly maxRollbackShare: number;
  /** Gateways that did not report an outcome within the gateway timeout. */
  readonly maxTimeoutShare: number;
}

export const DEFAULT_GATES: HealthGates = { maxFailureShare: 0, maxRollbackShare: 0, maxTimeoutShare: 0.1 };

/** Where each gateway of a wave stands. */
export interface WaveTally {
  readonly total: number;
  readonly notified: number;
  readonly active: number;
  readonly failed: number;
  readonly rolledBack: number;
  readonly timedOut: number;
  readonly offline: number;
  readonly pending: number;
  /** Told to run the release in shadow, and not yet reported. */
  readonly shadowing: number;
  /** Ran it in shadow and reported how it compared (waiting to be told to activate it). */
  readonly shadowed: number;
  /** Told to switch back to their previous release after a failed gate, and not yet reported. */
  readonly reverting: number;
  /** Switched back (or no longer ran the release). */
  readonly reverted: number;
}

export interface GateResult {
  readonly gate: 'failure' | 'rollback' | 'timeout' | 'reached' | 'quality';
  readonly share: number;
  readonly count: number;
  readonly limit: number;
  readonly pass: boolean;
}

/**
 * Each gate with its numbers; the wave passes when all do. A wave with gateways of which none
 * was told (all offline) fails the `reached` gate: no evidence is no pass. An empty wave passes.
 */
export function evaluateGates(t: WaveTally, g: HealthGates): { pass: boolean; results: GateResult[] } {
  const told = t.active + t.shadowed + t.failed + t.rolledBack + t.timedOut;
  const share = (n: number): number => (told === 0 ? 0 : n / told);
  const results: GateResult[] = [
    { gate: 'reached', count: told, share: t.total === 0 ? 1 : told / t.total, limit: 0, pass: t.total === 0 || told > 0 },
    { gate: 'failure', count: t.failed, share: share(t.failed), limit: g.maxFailureShare, pass: share(t.failed) <= g.maxFailureShare },
    { gate: 'rollback', count: t.rolledBack, share: share(t.rolledBack), limit: g.maxRollbackShare, pass: share(t.rolledBack) <= g.maxRollbackShare },
    { gate: 'timeout', count: t.timedOut, share: share(t.timedOut), limit: g.maxTimeoutShare, pass: share(t.timedOut) <= g.maxTimeoutShare },
  ];
  return { pass: results.every((r) => r.pass), results };
}
