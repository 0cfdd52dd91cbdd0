import type { Queryable } from '../db/open-database.js';
import type { TargetState } from './rollout-store.js';

/**
 * What a gateway's update reports say about one release: the newest word wins in order of
 * seriousness. A probation that failed (the gateway switched back) is `rolled-back`; a
 * refused or failed step is `failed`; an activation is `active`; nothing yet: undefined.
 */
export interface ReleaseOutcome {
  readonly state: Extract<TargetState, 'active' | 'failed' | 'rolled-back'>;
  readonly detail: string | null;
}

interface StepRow {
  gateway_id: string;
  step: string;
  outcome: string;
  reason: string | null;
  target: string;
}

/** Reads the update steps of these gateways about the release since `sinceMs`. */
export async function releaseOutcomes(db: Queryable, release: { target: string; model: string; release: number }, gateways: readonly string[], sinceMs: number): Promise<Map<string, ReleaseOutcome>> {
  const out = new Map<string, ReleaseOutcome>();
  if (gateways.length === 0) return out;
  // Probation and rollback reports name the model and release, not the target.
  const rows = await db.query<StepRow>(
    `SELECT gateway_id, step, outcome, reason, target FROM update_steps
     WHERE gateway_id IN (SELECT jsonb_array_elements_text($1::jsonb)) AND received_ms >= $2
       AND (target = $3 OR (model = $4 AND release = $5))
     ORDER BY gateway_id, seq`,
    [JSON.stringify(gateways), sinceMs, release.target, release.model, release.release],
  );
  for (const r of rows) {
    const prev = out.get(r.gateway_id);
    if (prev?.state === 'rolled-back') continue;
    // A notice that came again after the release was activated is refused as "not newer than
    // release N, already accepted": the gateway has it, nothing failed.
    if (prev?.state === 'active' && r.outcome !== 'ok' && r.reason?.startsWith('E_UPDATE_ROLLBACK') === true) continue;
    if (r.step === 'probation' && r.outcome !== 'ok') out.set(r.gateway_id, { state: 'rolled-back', detail: r.reason });
    else if (r.step === 'rollback') continue;
    else if (r.outcome !== 'ok' && r.step !== 'probation') out.set(r.gateway_id, { state: 'failed', detail: `${r.step}: ${r.reason ?? r.outcome}` });
    else if (r.step === 'activate' && r.outcome === 'ok') out.set(r.gateway_id, { state: 'active', detail: null });
  }
  return out;
}
