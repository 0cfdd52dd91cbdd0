import fc from 'fast-check';
import { ANNOUNCEMENT_LIMITS, MAX_CHUNK_COUNT, MAX_SCALE, type AnnouncedQuantisation, type ChunkAckMessage, type RoundAnnouncementMessage, type RoundInvitationMessage } from '../../../../fleet/protocol/federated/index.js';

const L = ANNOUNCEMENT_LIMITS;
export const taskId = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/);
export const gatewayId = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/);
const hex = (n: number): fc.Arbitrary<string> => fc.stringMatching(new RegExp(`^[0-9a-f]{${n}}$`));

const sharedScale = fc.float({ min: 0, max: MAX_SCALE, minExcluded: true, noNaN: true });

/** Every announcement the protocol allows: a secure round always has int8 with a shared scale. */
export const announcement: fc.Arbitrary<RoundAnnouncementMessage> = fc
  .record({
    secureAggregation: fc.boolean(),
    plain: fc.oneof(
      fc.record({ type: fc.constant('int8' as const), scale: fc.option(sharedScale, { nil: null }) }),
      fc.record({ type: fc.constant('top-k' as const), density: fc.double({ min: 0, max: 1, minExcluded: true, maxExcluded: true, noNaN: true }) }),
    ) as fc.Arbitrary<AnnouncedQuantisation>,
    secureScale: sharedScale,
    task: taskId,
    round: fc.maxSafeNat(),
    model: fc.record({
      name: fc.stringMatching(/^[a-z0-9][a-z0-9._-]{0,63}$/),
      release: fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }),
      version: fc.string({ minLength: 1, maxLength: 32 }),
      sha256: hex(64),
      fetch: fc.record({ type: fc.constant('tuf' as const), target: fc.stringMatching(/^[A-Za-z0-9._/-]{1,200}$/) }),
    }),
    localEpochs: fc.integer({ min: 1, max: L.maxLocalEpochs }),
    learningRate: fc.double({ min: 0, max: L.maxLearningRate, minExcluded: true, noNaN: true }),
    clipNorm: fc.double({ min: L.minClipNorm, max: L.maxClipNorm, noNaN: true }),
    proximalMu: fc.option(fc.double({ min: 0, max: L.maxProximalMu, minExcluded: true, noNaN: true }), { nil: null }),
    openedAtMs: fc.integer({ min: 0, max: L.maxTimeMs - L.maxRoundMs }),
    roundMs: fc.integer({ min: L.minRoundMs, max: L.maxRoundMs }),
  })
  .map(({ secureAggregation, plain, secureScale, roundMs, ...rest }) => ({
    v: 1 as const,
    ...rest,
    quantisation: secureAggregation ? { type: 'int8' as const, scale: secureScale } : plain,
    secureAggregation,
    deadlineAtMs: rest.openedAtMs + roundMs,
  }));

export const invitation: fc.Arbitrary<RoundInvitationMessage> = fc.record({
  v: fc.constant(1 as const),
  task: taskId,
  round: fc.maxSafeNat(),
  gateway: gatewayId,
  nonce: hex(32),
});

/** Sorted, distinct chunk indices, 1 to `max` of them. */
const indices = (max: number): fc.Arbitrary<number[]> =>
  fc.uniqueArray(fc.integer({ min: 0, max: MAX_CHUNK_COUNT - 1 }), { minLength: 1, maxLength: max }).map((a) => a.sort((x, y) => x - y));

export const chunkAck: fc.Arbitrary<ChunkAckMessage> = fc.record({
  v: fc.constant(1 as const),
  id: fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/),
  sha: hex(64),
  kind: fc.constantFrom('complete', 'missing', 'unknown') as fc.Arbitrary<ChunkAckMessage['status']>,
  missing: indices(300),
}).map(({ kind, missing, ...rest }) => ({ ...rest, status: kind, missing: kind === 'missing' ? missing : [] }));
