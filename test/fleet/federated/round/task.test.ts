import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FederatedRoundError, parseFederatedTask } from '../../../../fleet/federated/round/index.js';
import { rawTask } from './fixtures.js';

function refusal(raw: unknown): FederatedRoundError {
  try {
    parseFederatedTask(raw);
  } catch (err) {
    expect(err).toBeInstanceOf(FederatedRoundError);
    expect((err as FederatedRoundError).code).toBe('E_FEDERATED_TASK');
    return err as FederatedRoundError;
  }
  throw new Error('expected E_FEDERATED_TASK');
}

const dp = { noiseMultiplier: 1, targetEpsilon: 8, delta: 1e-5, population: 100 };

describe('a federated task definition', () => {
  it('fills in the defaults and keeps the selector as it was given', () => {
    const t = parseFederatedTask(rawTask({ gatewaySelector: [{ key: 'site', op: 'in', values: ['a', 'b'] }] }));
    expect(t).toEqual({
      id: 'motor-ae',
      model: 'motor-anomaly',
      gatewaySelector: [{ key: 'site', op: 'in', values: ['a', 'b'] }],
      strategy: { type: 'fedavg', options: {} },
      localEpochs: 2,
      learningRate: 0.01,
      clipNorm: 1,
      minClients: 3,
      samplingShare: 1,
      deadlineMs: 60_000,
      lateUpdates: { type: 'drop' },
      secureAggregation: false,
      privacy: null,
      quantisation: { type: 'int8' },
    });
    const t2 = parseFederatedTask(
      rawTask({ strategy: { type: 'trimmed-mean' }, minClients: 10, lateUpdates: { type: 'buffer' }, quantisation: { type: 'top-k', density: 0.25 } }),
    );
    expect(t2.strategy).toEqual({ type: 'trimmed-mean', options: { trimShare: 0.1 } });
    expect(t2.lateUpdates).toEqual({ type: 'buffer', stalenessExponent: 0.5, maxStaleness: 4, maxBuffered: 64 });
    expect(t2.quantisation).toEqual({ type: 'top-k', density: 0.25 });
  });

  it.each([
    ['id', rawTask({ id: 'has space' }), /^id: expected a task id/],
    ['id missing', rawTask({ id: undefined }), /^id: is required/],
    ['model', rawTask({ model: 'Motor' }), /^model: expected a model name/],
    ['selector', rawTask({ gatewaySelector: undefined }), /^gatewaySelector: is required/],
    ['selector not JSON', rawTask({ gatewaySelector: { at: new Date(0) } }), /^gatewaySelector\.at: expected a JSON value, got Date/],
    ['selector too big', rawTask({ gatewaySelector: 'x'.repeat(5000) }), /^gatewaySelector: is 5002 bytes as JSON, at most 4096/],
    ['localEpochs', rawTask({ localEpochs: 0 }), /^localEpochs: expected an integer from 1 to 1000, got 0/],
    ['learningRate', rawTask({ learningRate: 0 }), /^learningRate: expected a number above 0/],
    ['clipNorm', rawTask({ clipNorm: Number.POSITIVE_INFINITY }), /^clipNorm: expected a number/],
    ['minClients', rawTask({ minClients: 2.5 }), /^minClients: expected an integer/],
    ['samplingShare', rawTask({ samplingShare: 1.5 }), /^samplingShare: expected a number above 0 and at most 1/],
    ['deadlineMs', rawTask({ deadlineMs: 10 }), /^deadlineMs: expected an integer from 1000/],
    ['unknown key', rawTask({ deadline: 5 }), /^deadline: unknown key/],
    ['strategy type', rawTask({ strategy: { type: 'fedsgd' } }), /^strategy\.type: unknown aggregation rule 'fedsgd': choose one of fedavg, fedprox, median, trimmed-mean, multi-krum/],
    ['strategy options', rawTask({ strategy: { type: 'trimmed-mean', options: { trimshare: 0.2 } } }), /^strategy\.options: trimmed-mean: unknown option 'trimshare'/],
    ['krum quorum', rawTask({ strategy: { type: 'multi-krum', options: { byzantineClients: 2 } }, minClients: 5 }), /^strategy\.options: multi-krum: byzantineClients 2 needs rounds of more than 2f \+ 2/],
    ['late type', rawTask({ lateUpdates: { type: 'keep' } }), /^lateUpdates\.type: expected "drop" or "buffer"/],
    ['late drop with options', rawTask({ lateUpdates: { type: 'drop', maxStaleness: 3 } }), /^lateUpdates\.maxStaleness: unknown key/],
    ['late exponent', rawTask({ lateUpdates: { type: 'buffer', stalenessExponent: -1 } }), /^lateUpdates\.stalenessExponent: expected a number from 0 to 8/],
    ['late buffer bound', rawTask({ lateUpdates: { type: 'buffer', maxBuffered: 0 } }), /^lateUpdates\.maxBuffered: expected an integer from 1 to 1000/],
    ['quantisation', rawTask({ quantisation: { type: 'int4' } }), /^quantisation\.type: expected "int8" or "top-k"/],
    ['top-k density', rawTask({ quantisation: { type: 'top-k' } }), /^quantisation\.density: is required/],
    ['top-k density 1', rawTask({ quantisation: { type: 'top-k', density: 1 } }), /^quantisation\.density: density 1 sends every value: choose "int8"/],
    ['secure flag', rawTask({ secureAggregation: 'yes' }), /^secureAggregation: expected true or false/],
    ['noise', rawTask({ privacy: { ...dp, noiseMultiplier: 0 } }), /^privacy\.noiseMultiplier: must be a finite number > 0/],
    ['epsilon', rawTask({ privacy: { ...dp, targetEpsilon: -1 } }), /^privacy\.targetEpsilon: must be a finite number > 0/],
    ['delta', rawTask({ privacy: { ...dp, delta: 1 } }), /^privacy\.delta: must be in \(0, 1\)/],
    ['population', rawTask({ privacy: { ...dp, population: undefined } }), /^privacy\.population: is required/],
  ])('refuses a bad %s, naming the field', (_name, raw, message) => {
    expect(refusal(raw).message).toMatch(message);
  });

  it('refuses secure aggregation with a robust rule, by the registry\'s check', () => {
    for (const strategy of [{ type: 'median' }, { type: 'trimmed-mean', options: { trimShare: 0.2 } }, { type: 'multi-krum', options: { byzantineClients: 1 } }]) {
      const err = refusal(rawTask({ strategy, minClients: 10, secureAggregation: true }));
      expect(err.field).toBe('secureAggregation');
      expect(err.message).toMatch(/cannot run with secure aggregation: under secure aggregation the fleet sees only the sum/);
    }
    expect(parseFederatedTask(rawTask({ strategy: { type: 'fedprox', options: { mu: 0.1 } }, secureAggregation: true })).secureAggregation).toBe(true);
  });

  it('refuses combinations that cannot keep their promise', () => {
    expect(refusal(rawTask({ secureAggregation: true, lateUpdates: { type: 'buffer' } })).field).toBe('lateUpdates.type');
    expect(refusal(rawTask({ secureAggregation: true, quantisation: { type: 'top-k', density: 0.5 } })).field).toBe('quantisation.type');
    const robust = refusal(rawTask({ strategy: { type: 'median' }, privacy: dp }));
    expect(robust.field).toBe('privacy');
    expect(robust.message).toMatch(/median does not work from the sum/);
    expect(refusal(rawTask({ privacy: dp, lateUpdates: { type: 'buffer' } })).message).toMatch(/count twice in one release \(sensitivity 2C/);
    expect(refusal(rawTask({ privacy: { ...dp, population: 10 }, samplingShare: 0.2, minClients: 3 })).message).toMatch(/^samplingShare: samplingShare 0.2 of a population of 10 draws 2.000 gateways per round on average, fewer than minClients 3/);
  });

  it('refuses a private task whose budget cannot pay for a single round (privacy module\'s budget)', () => {
    const err = refusal(rawTask({ privacy: { ...dp, noiseMultiplier: 0.3, targetEpsilon: 0.5 } }));
    expect(err.field).toBe('privacy');
    expect(err.message).toMatch(/one round with samplingShare 1 and noiseMultiplier 0.3 already spends epsilon [\d.]+ at delta 0.00001, over targetEpsilon 0.5/);
    expect(parseFederatedTask(rawTask({ privacy: dp, samplingShare: 0.1, minClients: 3, clipNorm: 0.5 })).privacy).toEqual(dp);
  });

  it('a checked task checks again to itself (what the database stores reads back the same)', () => {
    fc.assert(
      fc.property(
        fc.record({
          strategy: fc.constantFrom({ type: 'fedavg' }, { type: 'fedprox', options: { mu: 0.5 } }, { type: 'median' }, { type: 'trimmed-mean', options: { trimShare: 0.25 } }, { type: 'multi-krum', options: { byzantineClients: 1 } }),
          minClients: fc.integer({ min: 5, max: 50 }),
          samplingShare: fc.double({ min: 0.01, max: 1, noNaN: true }),
          clipNorm: fc.double({ min: 1e-6, max: 1e6, noNaN: true }),
          lateUpdates: fc.oneof(fc.constant(undefined), fc.constant({ type: 'drop' }), fc.record({ type: fc.constant('buffer'), stalenessExponent: fc.double({ min: 0, max: 8, noNaN: true }), maxStaleness: fc.integer({ min: 1, max: 64 }) })),
          quantisation: fc.oneof(fc.constant({ type: 'int8' }), fc.record({ type: fc.constant('top-k'), density: fc.double({ min: 0.001, max: 0.999, noNaN: true }) })),
          gatewaySelector: fc.jsonValue({ maxDepth: 3 }),
        }),
        (fields) => {
          const t = parseFederatedTask(rawTask(fields));
          expect(parseFederatedTask(JSON.parse(JSON.stringify(t)))).toEqual(t);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('on any input, either checks or throws E_FEDERATED_TASK naming a field, nothing else', () => {
    const keys = ['id', 'model', 'gatewaySelector', 'strategy', 'localEpochs', 'learningRate', 'clipNorm', 'minClients', 'samplingShare', 'deadlineMs', 'lateUpdates', 'secureAggregation', 'quantisation', 'privacy'];
    const anything = fc.oneof(fc.anything(), fc.constantFrom(0, -1, 1, 0.5, 1e9, Number.NaN, Number.POSITIVE_INFINITY, null, 'fedavg', 'buffer', 'top-k', true), fc.record({ type: fc.constantFrom('fedavg', 'median', 'buffer', 'drop', 'top-k', 'int8'), options: fc.anything(), density: fc.double() }, { requiredKeys: ['type'] }));
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.constantFrom(...keys, 'extra'), anything), { maxLength: 3 }), fc.anything(), (replacements, whole) => {
        for (const raw of [rawTask(Object.fromEntries(replacements)), whole]) {
          try {
            parseFederatedTask(raw);
          } catch (err) {
            expect(err).toBeInstanceOf(FederatedRoundError);
            expect((err as FederatedRoundError).code).toBe('E_FEDERATED_TASK');
            expect((err as FederatedRoundError).field.length).toBeGreaterThan(0);
          }
        }
      }),
      { numRuns: 500 },
    );
  });
});
