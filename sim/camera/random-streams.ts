/**
 * Independent seeded streams per concern (look, parts, sensor), so that changing how one
 * consumes random numbers does not reshuffle the others.
 */
import { seededRandom } from '../../devices/synthetic/signals.js';

export type StreamName = 'look' | 'parts' | 'sensor' | 'placement';

const SALTS: Record<StreamName, number> = { look: 0x1b873593, parts: 0x85ebca6b, sensor: 0xc2b2ae35, placement: 0x27d4eb2f };

export function randomStream(seed: number, name: StreamName): () => number {
  return seededRandom((Math.imul(seed | 0, 0x9e3779b1) ^ SALTS[name]) >>> 0);
}
