import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FederatedRoundError } from '../../../../fleet/federated/round/errors.js';
import { taskSelector } from '../../../../fleet/federated/service/task-selector.js';
import { matches } from '../../../../fleet/registry/labels.js';
import { cborEncode } from '../../../../fleet/protocol/cbor.js';
import { waitFor } from '../../../support/wait-for.js';
import { taskBody, useRoundService } from './round-service-rig.js';

describe('a task\'s gateway selector', () => {
  it('reads selector text and objects of labels with the same meaning', () => {
    const labels = { line: 'press', site: 'plant-2' };
    expect(matches(taskSelector('line=press,site in (plant-1,plant-2)'), labels)).toBe(true);
    expect(matches(taskSelector({ line: 'press' }), labels)).toBe(true);
    expect(matches(taskSelector({ line: 'paint' }), labels)).toBe(false);
    expect(matches(taskSelector(''), labels)).toBe(true);
  });

  it('gives a selector or E_FEDERATED_TASK naming gatewaySelector for any JSON, never anything else', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 3 }), (value) => {
        try {
          taskSelector(value as never);
        } catch (err) {
          expect(err).toBeInstanceOf(FederatedRoundError);
          expect((err as FederatedRoundError).code).toBe('E_FEDERATED_TASK');
          expect((err as FederatedRoundError).field).toMatch(/^gatewaySelector/);
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe('update chunks from outside', () => {
  const rig = useRoundService();

  it('never fail the service: arbitrary bytes and arbitrary chunk envelopes are counted and dropped, and a round still runs', async () => {
    const [gw] = await rig.addGateways({ line: 'press' }, 'gw-0');
    const res = await rig.call('POST', '/v1/learning/tasks', taskBody({ minClients: 1 }));
    expect(res.status).toBe(201);
    const envelope = fc.record({ v: fc.oneof(fc.constant(1), fc.integer()), id: fc.string({ maxLength: 20 }), sha: fc.uint8Array({ minLength: 0, maxLength: 40 }), len: fc.integer({ min: -5, max: 2 ** 26 }), size: fc.integer({ min: 0, max: 70_000 }), n: fc.integer({ min: -1, max: 5000 }), i: fc.integer({ min: -1, max: 5000 }), d: fc.uint8Array({ maxLength: 64 }) });
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.uint8Array({ maxLength: 300 }), envelope.map((e) => cborEncode(e))), async (payload) => {
        await expect(rig.service.acceptChunk('gw-0', payload)).resolves.toBeUndefined();
      }),
      { numRuns: 300 },
    );
    expect(await rig.metric('edgewise_fleet_learning_chunks_total{result="malformed"}')).toBeGreaterThan(100);
    // Still serving: the gateway's real update closes its round with a model (sent once the round
    // is open: an update for a round not opened yet is refused as future-round).
    await waitFor(() => gw?.invitedTo('press-ae', 1) === true, 'the invitation to round 1');
    await gw?.send(gw.chunks({ task: 'press-ae', round: 1 }));
    await gw?.ack('press-ae.1', 'complete');
    await waitFor(async () => (await rig.service.getRound('press-ae', 1)).outcome === 'model', 'round 1 made a model');
  });
});
