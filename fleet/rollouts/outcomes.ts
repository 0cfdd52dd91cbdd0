import type { Queryable } from '../db/open-database.js';
import type { ShadowSummary } from '../protocol/update.js';
import type { TargetState } from './rollout-store.js';

/**
 * What a gateway's update reports say about one release: the newest word wins in order of
 * seriousness. A probation that failed (the gateway switched back) is `rolled-back`; a
 * refused or failed step is `failed`; an activation is `active`; nothing yet: undefined.
 */
export interface ReleaseOutcome {
  readonly state: Extract<TargetState, 'active' | 'confirmed' | 'failed' | 'rolled-back'>;
  readonly detail: string | null;
}

interface StepRow {
  gateway_id: string;
  received_ms: number;
  step: string;
  outcome: string;
  reason: string | null;
  target: string;
}

/**
 * Reads the update steps of these gateways about the release. A failure counts only when it
 * came after the gateway was told (`notifiedMs`): a refusal left from an earlier rollout of the
 * same release must not condemn a gateway before it is asked. An activation counts whenever
 * it came. A refusal as "not newer than release N, already accepted" (E_UPDATE_ROLLBACK)
 * means the gateway has this release or a newer one: nothing to do there, nothing failed.
 */
export async function releaseOutcomes(
  db: Queryable,
  release: { target: string; model: string; release: number },
  gateways: ReadonlyMap<string, number | null>,
  sinceMs: number,
): Promise<Map<string, ReleaseOutcome>> {
  const out = new Map<string, ReleaseOutcome>();
  if (gateways.size === 0) return out;
  // Probation and rollback reports name the model and release, not the target.
  const rows = await db.query<StepRow>(
    `SELECT gateway_id, received_ms, step, outcome, reason, target FROM update_steps
     WHERE gateway_id IN (SELECT jsonb_array_elements_text($1::jsonb)) AND received_ms >= $2
       AND (target = $3 OR (model = $4 AND release = $5))
     ORDER BY gateway_id, seq`,
    [JSON.stringify([...gateways.keys()]), sinceMs, release.target, release.model, release.release],
  );
  for (const r of rows) {
    const prev = out.get(r.gateway_id);
    if (prev?.state === 'rolled-back') continue;
    const told = gateways.get(r.gateway_id) ?? null;
    const afterNotice = told !== null && r.received_ms >= told;
    if (r.outcome !== 'ok' && r.reason?.startsWith('E_UPDATE_ROLLBACK:') === true) {
      if (prev === undefined) out.set(r.gateway_id, { state: 'active', detail: 'has this release or a newer one' });
      continue;
    }
    if (r.step === 'probation') {
      if (r.outcome !== 'ok' && afterNotice) out.set(r.gateway_id, { state: 'rolled-back', detail: r.reason });
      else if (r.outcome === 'ok' && (prev?.state === 'active' || prev?.state === 'confirmed')) out.set(r.gateway_id, { state: 'confirmed', detail: null });
    } else if (r.step === 'rollback') continue;
    else if (r.outcome !== 'ok') {
      if (afterNotice) out.set(r.gateway_id, { state: 'failed', detail: `${r.step}: ${r.reason ?? r.outcome}` });
    } else if (r.step === 'activate') out.set(r.gateway_id, { state: 'active', detail: null });
  }
  return out;
}

/**
 * The shadow reports of gateways told to shadow the release: the newest `shadow` step that
 * ran, received after the gateway was told (a report from an earlier shadow does not count).
 */
export async function shadowReports(db: Queryable, release: { target: string }, told: ReadonlyMap<string, number>): Promise<{ gw: string; shadow: ShadowSummary }[]> {
  if (told.size === 0) return [];
  const rows = await db.query<{ gateway_id: string; received_ms: number; shadow: ShadowSummary }>(
    `SELECT gateway_id, received_ms, shadow FROM update_steps
     WHERE gateway_id IN (SELECT jsonb_array_elements_text($1::jsonb)) AND target = $2 AND step = 'shadow' AND outcome = 'ok' AND shadow IS NOT NULL
     ORDER BY gateway_id, seq`,
    [JSON.stringify([...told.keys()]), release.target],
  );
  const out = new Map<string, ShadowSummary>();
  for (const r of rows) if (r.received_ms >= (told.get(r.gateway_id) ?? Number.POSITIVE_INFINITY)) out.set(r.gateway_id, r.shadow);
  return [...out].map(([gw, shadow]) => ({ gw, shadow }));
}

/**
 * What gateways told to switch back from the release said, after they were told: switched
 * back (or no longer ran it: refused as not active) is `reverted`; anything else `failed`.
 */
export async function revertOutcomes(db: Queryable, release: { target: string }, told: ReadonlyMap<string, number>): Promise<Map<string, { state: 'reverted' | 'failed'; detail: string | null }>> {
  const out = new Map<string, { state: 'reverted' | 'failed'; detail: string | null }>();
  if (told.size === 0) return out;
  const rows = await db.query<{ gateway_id: string; received_ms: number; outcome: string; reason: string | null }>(
    `SELECT gateway_id, received_ms, outcome, reason FROM update_steps
     WHERE gateway_id IN (SELECT jsonb_array_elements_text($1::jsonb)) AND target = $2 AND step = 'rollback'
     ORDER BY gateway_id, seq`,
    [JSON.stringify([...told.keys()]), release.target],
  );
  for (const r of rows) {
    if (r.received_ms < (told.get(r.gateway_id) ?? Number.POSITIVE_INFINITY)) continue;
    if (r.outcome === 'ok') out.set(r.gateway_id, { state: 'reverted', detail: r.reason });
    else if (r.reason?.startsWith('E_UPDATE_NOT_ACTIVE') === true) out.set(r.gateway_id, { state: 'reverted', detail: r.reason });
    else out.set(r.gateway_id, { state: 'failed', detail: `rollback: ${r.reason ?? r.outcome}` });
  }
  return out;
}
