import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { seededRandom, type FleetSecAggMessage } from '../../../fleet/protocol/federated/index.js';
import { INT8_LEVELS } from '../../../fleet/protocol/secure-aggregation/index.js';
import { SecAggInbox } from '../../../runtime/federated/secagg-inbox.js';
import { quantiseClipped } from '../../../runtime/federated/secure-participant.js';

const request = (round: number, to = 'gw-1'): FleetSecAggMessage => ({ task: 't', round, step: 'unmasking-request', body: { round: `t:${round}`, to, survivors: ['gw-1', 'gw-2'] } });

describe('the gateway side of a secure round', () => {
  it('quantises any delta, clipped to the clip norm, into ring words within 127 steps of the shared scale and within one step of the clipped value', () => {
    fc.assert(
      fc.property(
        fc.array(fc.array(fc.double({ min: -1e3, max: 1e3, noNaN: true }), { minLength: 1, maxLength: 40 }), { minLength: 1, maxLength: 4 }),
        fc.double({ min: 1e-3, max: 100, noNaN: true }),
        fc.nat(),
        (tensors, clipNorm, seed) => {
          const delta = tensors.map((values, i) => ({ name: `t${i}`, shape: [values.length], values: Float32Array.from(values) }));
          let s = Math.fround(clipNorm / 127);
          while (s * 127 < clipNorm) s = Math.fround(s * (1 + 1e-7));
          const words = quantiseClipped(delta, clipNorm, s, seededRandom(seed));
          const flat = delta.flatMap((t) => [...t.values]);
          expect(words.length).toBe(flat.length);
          const norm = Math.hypot(...flat);
          const factor = norm > clipNorm ? clipNorm / norm : 1;
          const q = new Int32Array(words.buffer);
          q.forEach((x, i) => {
            expect(Math.abs(x)).toBeLessThanOrEqual(INT8_LEVELS);
            expect(Math.abs(x * s - (flat[i] as number) * factor)).toBeLessThan(s * (1 + 1e-9));
          });
        },
      ),
    );
  });

  it('keeps one relayed message per step of its own round (a redelivery or another round\'s is dropped) and wakes the step\'s waiter; an abort rejects the wait', async () => {
    const inbox = new SecAggInbox('t', 3);
    const abort = new AbortController();
    const waiting = inbox.next('unmasking-request', abort.signal);
    expect(inbox.push(request(2))).toBe(false);
    expect(inbox.push(request(3))).toBe(true);
    expect(inbox.push(request(3, 'gw-2'))).toBe(false);
    expect((await waiting).body.to).toBe('gw-1');
    const never = inbox.next('key-roster', abort.signal);
    abort.abort(Object.assign(new Error('deadline'), { code: 'E_LEARNING_DEADLINE' }));
    await expect(never).rejects.toMatchObject({ code: 'E_LEARNING_DEADLINE' });
    await expect(inbox.next('share-delivery', abort.signal)).rejects.toMatchObject({ code: 'E_LEARNING_DEADLINE' });
  });
});
