import { describe, expect, it } from 'vitest';
import { encodeUpdate, type UpdateMessage } from '../../../../fleet/protocol/federated/index.js';
import { emptyRejectionCounts, REJECTION_REASONS, type RejectionReason } from '../../../../fleet/federated/round/index.js';
import { closeOrFail, delta, scripted, flatQuantized, gatewayUpdate, gateways, harness, modelOf, openOrFail, rawUpdate, SMALL_LAYOUT, task, type Harness } from './fixtures.js';

const model = modelOf(SMALL_LAYOUT);
const good = (gateway: string, round = 1): UpdateMessage => gatewayUpdate({ gateway, round, deltas: delta(SMALL_LAYOUT, (k, j) => 0.01 * (k - j)), clipNorm: 1 });

/** Each way an update can be refused, done once to a fresh round of 4 drawn gateways (gw-00..gw-03; gw-09 eligible, never drawn). */
const cases: [RejectionReason, (h: Harness) => void][] = [
  ['malformed', (h) => h.rounds.acceptEncoded('gw-00', encodeUpdate(good('gw-00')).subarray(0, 40))],
  ['malformed', (h) => h.rounds.accept('gw-00', { ...good('gw-00'), samples: 0 })],
  ['malformed', (h) => h.rounds.accept('gw-00', { ...good('gw-00'), calibration: { n: 4, sum: Number.NaN, sumSq: 1 } })],
  ['sender-mismatch', (h) => h.rounds.accept('gw-01', good('gw-00'))],
  ['wrong-task', (h) => h.rounds.accept('gw-00', { ...good('gw-00'), task: 'other-task' })],
  ['unknown-or-revoked-gateway', (h) => h.rounds.accept('intruder', { ...good('gw-00'), client: 'intruder' })],
  [
    'unknown-or-revoked-gateway',
    (h) => {
      h.revoked.add('gw-00');
      h.rounds.accept('gw-00', good('gw-00'));
    },
  ],
  ['future-round', (h) => h.rounds.accept('gw-00', good('gw-00', 2))],
  ['not-sampled', (h) => h.rounds.accept('gw-09', good('gw-09'))],
  ['wrong-shape', (h) => h.rounds.accept('gw-00', rawUpdate('gw-00', 1, flatQuantized([SMALL_LAYOUT[0]!], 1, 0.01)))],
  ['wrong-shape', (h) => h.rounds.accept('gw-00', rawUpdate('gw-00', 1, flatQuantized([SMALL_LAYOUT[1]!, SMALL_LAYOUT[0]!], 1, 0.01)))],
  ['non-finite', (h) => h.rounds.accept('gw-00', rawUpdate('gw-00', 1, flatQuantized(SMALL_LAYOUT, 0, Number.NaN)))],
  ['norm-over-bound', (h) => h.rounds.accept('gw-00', rawUpdate('gw-00', 1, flatQuantized(SMALL_LAYOUT, 127, 0.1)))],
  [
    'duplicate',
    (h) => {
      h.rounds.accept('gw-00', good('gw-00'));
      h.rounds.accept('gw-00', good('gw-00'));
    },
  ],
  [
    'late-dropped',
    (h) => {
      h.clock.advance(60_000);
      h.rounds.accept('gw-00', good('gw-00'));
    },
  ],
];

function drawAll(h: Harness): void {
  // Share 0.9; one coin per gateway in sorted order: gw-00..gw-03 drawn, gw-09 not.
  const drawn = openOrFail(h, 1, model, [...gateways(4), 'gw-09'], scripted([0, 0, 0, 0, 0.95]));
  expect(drawn).toEqual(gateways(4));
}

describe('each refused update is counted under its reason', () => {
  it.each(cases)('%s', (reason, act) => {
    const h = harness(task({ minClients: 1, samplingShare: 0.9 }));
    drawAll(h);
    act(h);
    h.clock.t = Math.max(h.clock.t, h.rounds.openRound!.deadlineAtMs);
    const { record } = closeOrFail(h);
    expect(record.rejections).toEqual({ ...emptyRejectionCounts(), [reason]: 1 });
  });

  it('every reason is reachable and tested', () => {
    expect(new Set(cases.map(([r]) => r))).toEqual(new Set(REJECTION_REASONS.filter((r) => !['stale-round', 'late-buffer-full'].includes(r))));
    // stale-round: below; late-buffer-full: late-policy.test.ts
  });

  it('a refused update leaves the round as it was: the same gateway\'s answer is still taken when the refusal was about identity', () => {
    const h = harness(task({ minClients: 1, samplingShare: 0.9 }));
    drawAll(h);
    expect(h.rounds.accept('gw-00', { ...good('gw-00'), task: 'other' })).toMatchObject({ reason: 'wrong-task' });
    expect(h.rounds.accept('gw-00', good('gw-00'))).toMatchObject({ status: 'accepted' });
    // A refusal of content is the gateway's answer: a second try is a duplicate, so the checks cannot be probed.
    expect(h.rounds.accept('gw-01', rawUpdate('gw-01', 1, flatQuantized(SMALL_LAYOUT, 127, 0.1)))).toMatchObject({ reason: 'norm-over-bound' });
    expect(h.rounds.accept('gw-01', good('gw-01'))).toMatchObject({ reason: 'duplicate' });
  });
});

describe('updates for other rounds', () => {
  it('a replay of an accepted update is a duplicate in the next round and stale after that; a revoked gateway is refused first', () => {
    const h = harness(task({ minClients: 1 }));
    openOrFail(h, 1, model, gateways(3));
    const first = good('gw-00', 1);
    expect(h.rounds.accept('gw-00', first)).toMatchObject({ status: 'accepted' });
    h.clock.advance(60_000);
    closeOrFail(h);
    // Between rounds: counted, and handed to the record of the next round that closes.
    expect(h.rounds.accept('gw-00', first)).toMatchObject({ status: 'rejected', reason: 'duplicate' });
    openOrFail(h, 2, model, gateways(3));
    expect(h.rounds.accept('gw-00', first)).toMatchObject({ status: 'rejected', reason: 'duplicate' });
    h.clock.advance(60_000);
    const r2 = closeOrFail(h).record;
    expect(r2.rejections.duplicate).toBe(2);
    expect(r2.participants).toEqual([]);

    openOrFail(h, 3, model, gateways(3));
    expect(h.rounds.accept('gw-00', first)).toMatchObject({ status: 'rejected', reason: 'stale-round' });
    expect(h.rounds.accept('gw-01', good('gw-01', 1))).toMatchObject({ status: 'rejected', reason: 'stale-round' });
    h.revoked.add('gw-01');
    expect(h.rounds.accept('gw-01', good('gw-01', 3))).toMatchObject({ status: 'rejected', reason: 'unknown-or-revoked-gateway' });
    expect(h.rounds.accept('gw-01', good('gw-01', 2))).toMatchObject({ status: 'rejected', reason: 'unknown-or-revoked-gateway' });
    expect(h.rounds.accept('gw-02', good('gw-02', 4))).toMatchObject({ status: 'rejected', reason: 'future-round' });
    h.clock.advance(60_000);
    const r3 = closeOrFail(h).record;
    expect(r3.rejections).toMatchObject({ 'stale-round': 2, 'unknown-or-revoked-gateway': 2, 'future-round': 1 });
  });

  it('a late update from a gateway drawn in the previous round goes to the late policy; one not drawn there is not-sampled', () => {
    const h = harness(task({ minClients: 1, samplingShare: 0.5 }));
    const drawn = openOrFail(h, 1, model, gateways(6), scripted([0.1, 0.9, 0.2, 0.8, 0.3, 0.7]));
    const notDrawn = gateways(6).filter((g) => !drawn.includes(g));
    expect(drawn.length).toBeGreaterThan(1);
    expect(notDrawn.length).toBeGreaterThan(0);
    h.rounds.accept(drawn[0]!, good(drawn[0]!));
    h.clock.advance(60_000);
    closeOrFail(h);
    openOrFail(h, 2, model, gateways(6));
    expect(h.rounds.accept(drawn[1]!, good(drawn[1]!, 1))).toMatchObject({ reason: 'late-dropped' });
    expect(h.rounds.accept(notDrawn[0]!, good(notDrawn[0]!, 1))).toMatchObject({ reason: 'not-sampled' });
  });
});
