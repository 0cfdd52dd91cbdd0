/**
 * A wave's health-gate numbers as the rollout driver judges them (fleet/rollouts/gates.ts,
 * evaluateGates): shares of the gateways told that have an outcome. The page shows them for
 * every wave while it runs; a failed gate's own numbers also come in its `gate-failed`
 * decision, which the decisions list shows as recorded. Pure: no DOM.
 */
import type { Rollout, WaveTally } from '../api/types.js';

export interface GateNumbers {
  readonly gate: 'failure' | 'rollback' | 'timeout';
  readonly count: number;
  readonly share: number;
  readonly limit: number;
  readonly pass: boolean;
}

export function waveGates(t: WaveTally, gates: Rollout['gates']): { told: number; results: GateNumbers[] } {
  const told = t.active + t.shadowed + t.failed + t.rolledBack + t.timedOut;
  const share = (n: number): number => (told === 0 ? 0 : n / told);
  const gate = (g: GateNumbers['gate'], count: number, limit: number): GateNumbers => ({ gate: g, count, share: share(count), limit, pass: share(count) <= limit });
  return {
    told,
    results: [gate('failure', t.failed, gates.maxFailureShare), gate('rollback', t.rolledBack, gates.maxRollbackShare), gate('timeout', t.timedOut, gates.maxTimeoutShare)],
  };
}
