import { isGatewayId } from '../../protocol/topics.js';
import type { UniformSource } from '../privacy/uniform-source.js';
import { roundError } from './errors.js';
import { ROUND_LIMITS } from './limits.js';

/**
 * Poisson sampling: each eligible gateway is drawn into the round independently, with
 * probability `share`, by one uniform draw of its own (drawn iff u < share). That is exactly
 * the sampling the privacy accountant assumes (the Poisson-subsampled Gaussian with q = share),
 * on three conditions the caller keeps:
 * - `random` is `cryptoUniformSource()` in a real round: a seeded or predictable source lets
 *   whoever knows it tell who was drawn (tests and the simulator pass a seeded one);
 * - the draw stays secret: only the drawn gateways learn it (each gets its own invitation on its
 *   own topic), and the retained announcement every gateway reads names no one;
 * - there is no second draw: a sample too small for the quorum is not redrawn (that would make
 *   the size of the sample, not each gateway's coin, decide who takes part). The round then
 *   closes without a model.
 * The sample size is random (Binomial(N, q)), which is the point: fixed-size cohorts are not
 * Poisson and would have to be accounted with q = 1.
 *
 * Ids are sorted before drawing, so a seeded source gives the same sample whatever the order
 * the registry listed them in.
 */
export function poissonSample(eligible: readonly string[], share: number, random: UniformSource): string[] {
  if (!(share > 0 && share <= 1)) throw roundError('samplingShare', `expected a share in (0, 1], got ${share}`);
  const sorted = checkEligible(eligible);
  const drawn: string[] = [];
  for (const id of sorted) {
    const u = random();
    if (!(u >= 0 && u < 1)) throw roundError('random', `a uniform source must return numbers in [0, 1), got ${u}`);
    if (u < share) drawn.push(id);
  }
  return drawn;
}

/** The eligible list, checked (distinct gateway ids, bounded) and sorted. */
export function checkEligible(eligible: readonly string[]): string[] {
  if (!Array.isArray(eligible)) throw roundError('eligibleGateways', 'expected a list of gateway ids');
  if (eligible.length > ROUND_LIMITS.maxEligibleGateways) throw roundError('eligibleGateways', `${eligible.length} gateways, at most ${ROUND_LIMITS.maxEligibleGateways} per round`);
  eligible.forEach((id, i) => {
    if (typeof id !== 'string' || !isGatewayId(id)) throw roundError(`eligibleGateways[${i}]`, `expected a gateway id, got ${JSON.stringify(id)}`);
  });
  const sorted = [...eligible].sort();
  for (let i = 1; i < sorted.length; i += 1) if (sorted[i] === sorted[i - 1]) throw roundError('eligibleGateways', `"${sorted[i] as string}" is listed twice`);
  return sorted;
}
