import { describe, expect, it } from 'vitest';
import { AGGREGATION_STRATEGIES, StrategyError, configureAggregation, refuseSecureAggregationMismatch, strategyByName, type AggregationChoice } from '../../../../fleet/federated/strategies/index.js';

function refusal(choice: AggregationChoice): string {
  try {
    configureAggregation(choice);
  } catch (e) {
    expect(e).toBeInstanceOf(StrategyError);
    expect((e as StrategyError).code).toBe('E_FEDERATED_TASK');
    return (e as StrategyError).message;
  }
  throw new Error(`accepted ${JSON.stringify(choice)}`);
}

const task = (strategy: unknown, options?: unknown, minClients: unknown = 10, secureAggregation = false): AggregationChoice => ({ strategy, options, minClients, secureAggregation });

describe('the aggregation rule registry', () => {
  it('lists every rule once, with what it can do', () => {
    expect([...AGGREGATION_STRATEGIES.keys()]).toEqual(['fedavg', 'fedprox', 'median', 'trimmed-mean', 'multi-krum']);
    expect([...AGGREGATION_STRATEGIES.values()].filter((s) => s.robust).map((s) => s.name)).toEqual(['median', 'trimmed-mean', 'multi-krum']);
    expect([...AGGREGATION_STRATEGIES.values()].filter((s) => s.composesWithSecureAggregation).map((s) => s.name)).toEqual(['fedavg', 'fedprox']);
  });

  it('refuses an unknown rule, listing the known ones', () => {
    expect(refusal(task('krum'))).toBe('unknown aggregation rule \'krum\': choose one of fedavg, fedprox, median, trimmed-mean, multi-krum');
    expect(refusal(task(7))).toMatch(/^unknown aggregation rule number: choose one of/);
    expect(() => strategyByName(undefined)).toThrow(/unknown aggregation rule undefined/);
  });

  it('fills in defaults and keeps them with the choice', () => {
    expect(configureAggregation(task('trimmed-mean')).options).toEqual({ trimShare: 0.1 });
    expect(configureAggregation(task('fedprox')).options).toEqual({ mu: 0.01 });
    expect(configureAggregation(task('fedavg', {})).options).toEqual({});
    expect(configureAggregation(task('multi-krum', { byzantineClients: 2 })).options).toEqual({ byzantineClients: 2 });
    const krum = configureAggregation(task('multi-krum', { byzantineClients: 3, selectedUpdates: 4 }));
    expect(krum.minUpdates).toBe(9);
    expect(krum.strategy.name).toBe('multi-krum');
  });

  it('binds the options to aggregate', () => {
    const updates = [1, 2, 3, 4, 100].map((x) => ({ tensors: [Float32Array.of(x)], samples: 1 }));
    expect(configureAggregation(task('trimmed-mean', { trimShare: 0.2 }, 5)).aggregate(updates).tensors[0]?.[0]).toBe(3);
    expect(configureAggregation(task('fedavg', undefined, 5)).aggregate(updates).tensors[0]?.[0]).toBe(22);
  });

  it('refuses a trim share out of range or one that trims nothing at the quorum, saying what to change', () => {
    expect(refusal(task('trimmed-mean', { trimShare: 0.5 }))).toBe('trimmed-mean: options.trimShare must be at least 0 and below 0.5 (the share trimmed from EACH side), got 0.5');
    expect(refusal(task('trimmed-mean', { trimShare: -0.1 }))).toMatch(/must be at least 0 and below 0.5/);
    expect(refusal(task('trimmed-mean', { trimShare: '0.1' }))).toBe('trimmed-mean: options.trimShare must be a finite number, got string');
    expect(refusal(task('trimmed-mean', { trimShare: 0.1 }, 8))).toBe(
      'trimmed-mean: trimShare 0.1 trims nothing from a round of minClients 8 (floor(0.1 x 8) = 0), so such a round would be a plain mean with no protection: raise trimShare to at least 0.125 or minClients to at least 10',
    );
    expect(configureAggregation(task('trimmed-mean', { trimShare: 0 }, 3)).options).toEqual({ trimShare: 0 });
  });

  it('refuses Krum\'s f too large for the task\'s minimum clients, with the largest f that would do', () => {
    expect(refusal(task('multi-krum', { byzantineClients: 4 }, 10))).toBe(
      'multi-krum: byzantineClients 4 needs rounds of more than 2f + 2 = 10 updates, but minClients is 10: Krum tells f arbitrary updates from honest ones only when n > 2f + 2 (Blanchard et al. 2017); lower byzantineClients to at most 3 or raise minClients to at least 11',
    );
    expect(refusal(task('multi-krum', { byzantineClients: 1 }, 4))).toMatch(/minClients is 4: .* raise minClients to at least 5$/);
    expect(configureAggregation(task('multi-krum', { byzantineClients: 3 }, 9)).minUpdates).toBe(9);
    expect(refusal(task('multi-krum', {}))).toBe('multi-krum: options.byzantineClients is required');
    expect(refusal(task('multi-krum', { byzantineClients: 1.5 }))).toBe('multi-krum: options.byzantineClients must be an integer of at least 1, got 1.5');
    expect(refusal(task('multi-krum', { byzantineClients: 2, selectedUpdates: 9 }, 10))).toMatch(/selectedUpdates 9 is more than minClients - byzantineClients = 8/);
  });

  it('refuses unknown and misspelt options, options that are not a mapping, and a bad quorum', () => {
    expect(refusal(task('trimmed-mean', { beta: 0.2 }))).toBe('trimmed-mean: unknown option \'beta\' (known: trimShare)');
    expect(refusal(task('median', { trimShare: 0.2 }))).toBe('median: unknown option \'trimShare\' (it takes none)');
    expect(refusal(task('fedavg', [1]))).toBe('fedavg: options must be a mapping, got a list');
    expect(refusal(task('fedprox', { mu: 0 }))).toBe('fedprox: options.mu must be above 0 and at most 10, got 0 (mu 0 is plain FedAvg: choose fedavg)');
    expect(refusal(task('fedavg', undefined, 0))).toBe('minClients must be an integer of at least 1, got 0');
    expect(refusal(task('fedavg', undefined, '5'))).toBe('minClients must be an integer of at least 1, got 5');
  });

  it('refuses secure aggregation with median, trimmed mean and multi-Krum, explaining that the fleet sees only the sum', () => {
    for (const [name, options] of [['median', {}], ['trimmed-mean', {}], ['multi-krum', { byzantineClients: 1 }]] as const) {
      const message = refusal(task(name, options, 10, true));
      expect(message).toBe(
        `${name} cannot run with secure aggregation: under secure aggregation the fleet sees only the sum of the updates, never one update, and ${name} needs every update's own values (to sort, trim or compare them). Choose fedavg or fedprox with secure aggregation, or turn secure aggregation off to use ${name}`,
      );
      expect(() => refuseSecureAggregationMismatch(strategyByName(name), false)).not.toThrow();
    }
    expect(configureAggregation(task('fedavg', undefined, 10, true)).strategy.name).toBe('fedavg');
    expect(configureAggregation(task('fedprox', { mu: 0.1 }, 10, true)).options).toEqual({ mu: 0.1 });
  });
});
