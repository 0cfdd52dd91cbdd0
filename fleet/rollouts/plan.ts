import { createHash } from 'node:crypto';
import { matches, parseSelector, type Labels } from '../registry/labels.js';

/** Which gateways a rollout is for. */
export type RolloutSelector = { readonly kind: 'all' } | { readonly kind: 'labels'; readonly selector: string } | { readonly kind: 'ids'; readonly ids: readonly string[] };

/**
 * One wave. `count`: the next N gateways (a canary of 5, say). `share`: up to this share of
 * all the rollout's gateways by the end of the wave, cumulative (0.1 then 1 is 10%, then the
 * rest). `labels`: every gateway not in an earlier wave whose labels match.
 */
export type WaveSpec = { readonly kind: 'count'; readonly count: number } | { readonly kind: 'share'; readonly share: number } | { readonly kind: 'labels'; readonly selector: string };

export interface PlanGateway {
  readonly id: string;
  readonly labels: Labels;
}

export class RolloutPlanError extends Error {
  readonly code = 'E_ROLLOUT_INVALID';
  constructor(message: string) {
    super(message);
    this.name = 'RolloutPlanError';
  }
}

/** Does the gateway belong to the rollout? */
export function selects(selector: RolloutSelector, g: PlanGateway): boolean {
  switch (selector.kind) {
    case 'all':
      return true;
    case 'labels':
      return matches(parseSelector(selector.selector), g.labels);
    case 'ids':
      return selector.ids.includes(g.id);
  }
}

/**
 * Checks waves before anything is stored: at least one, shares in (0, 1] and rising, counts
 * at least 1, selectors that parse. Throws RolloutPlanError naming the wave.
 */
export function checkWaves(waves: readonly WaveSpec[]): void {
  if (waves.length === 0) throw new RolloutPlanError('waves: at least one wave is needed (the last one takes every gateway not in an earlier one)');
  if (waves.length > 20) throw new RolloutPlanError(`waves: ${waves.length} waves, at most 20`);
  let lastShare = 0;
  waves.forEach((w, i) => {
    if (w.kind === 'count' && (!Number.isInteger(w.count) || w.count < 1)) throw new RolloutPlanError(`waves[${i}].count: expected an integer >= 1, got ${w.count}`);
    if (w.kind === 'share') {
      if (!(w.share > 0 && w.share <= 1)) throw new RolloutPlanError(`waves[${i}].share: expected a share in (0, 1], got ${w.share}`);
      if (w.share < lastShare) throw new RolloutPlanError(`waves[${i}].share: shares are cumulative and must not fall (${w.share} after ${lastShare})`);
      lastShare = w.share;
    }
    if (w.kind === 'labels') {
      try {
        parseSelector(w.selector, `waves[${i}].selector`);
      } catch (err) {
        throw new RolloutPlanError((err as Error).message);
      }
    }
  });
}

/** A stable, even shuffle: the canary is a fair sample, and the same key (the release) always picks the same one. */
function order(planKey: string, gateways: readonly PlanGateway[]): PlanGateway[] {
  const key = (id: string): string => createHash('sha256').update(`${planKey}\0${id}`).digest('hex');
  return [...gateways].map((g) => ({ g, k: key(g.id) })).sort((a, b) => (a.k < b.k ? -1 : a.k > b.k ? 1 : 0)).map((x) => x.g);
}

/**
 * Assigns each selected gateway to a wave (0-based). Gateways no wave takes join the last
 * wave: a rollout reaches every gateway it selects. A wave may end up empty (a canary count
 * larger than the fleet leaves nothing for a 10% wave); empty waves pass at once.
 */
export function planWaves(planKey: string, gateways: readonly PlanGateway[], waves: readonly WaveSpec[]): Map<string, number> {
  checkWaves(waves);
  const queue = order(planKey, gateways);
  const total = queue.length;
  const assigned = new Map<string, number>();
  let taken = 0;
  const take = (wave: number, n: number): void => {
    for (const g of queue) {
      if (n <= 0) break;
      if (assigned.has(g.id)) continue;
      assigned.set(g.id, wave);
      taken += 1;
      n -= 1;
    }
  };
  waves.forEach((w, i) => {
    if (w.kind === 'count') take(i, w.count);
    else if (w.kind === 'share') take(i, Math.ceil(w.share * total) - taken);
    else {
      const sel = parseSelector(w.selector);
      for (const g of queue) {
        if (!assigned.has(g.id) && matches(sel, g.labels)) {
          assigned.set(g.id, i);
          taken += 1;
        }
      }
    }
  });
  for (const g of queue) if (!assigned.has(g.id)) assigned.set(g.id, waves.length - 1);
  return assigned;
}
