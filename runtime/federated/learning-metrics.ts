import { collectedGauge } from '../health/metrics.js';
import type { Gauge, Registry } from '../health/prom-client.js';
import type { LearningStats } from './round-client.js';

/**
 * The round client's counters as Prometheus gauges (totals since start named `_total`, as the
 * gateway's other metrics read from components' own counters). The fleet's health report has
 * no learning section yet (fleet/protocol); `/metrics` and the `learning.*` events carry it.
 */
export function registerLearningMetrics(registry: Registry, stats: () => LearningStats): void {
  const gauge = (name: string, help: string, labelNames: string[], fill: (g: Gauge<string>, s: LearningStats) => void): void => collectedGauge(registry, stats, name, help, labelNames, fill);
  gauge('edgewise_learning_rounds_joined_total', 'Federated rounds this gateway was invited to and joined since start', [], (g, s) => g.set(s.roundsJoined));
  gauge('edgewise_learning_updates_sent_total', 'Federated updates whose every chunk the broker acknowledged', [], (g, s) => g.set(s.updatesSent));
  gauge('edgewise_learning_updates_acknowledged_total', 'Federated updates the fleet acknowledged as complete', [], (g, s) => g.set(s.updatesAcknowledged));
  gauge('edgewise_learning_sent_bytes_total', 'Bytes of update chunks acknowledged by the broker (resends included)', [], (g, s) => g.set(s.bytesSent));
  gauge('edgewise_learning_training', '1 while a round trains or uploads', [], (g, s) => g.set(s.training ? 1 : 0));
  gauge('edgewise_learning_last_validation_loss', "The last round's loss on held-out local data", [], (g, s) => {
    if (s.lastRound?.validationLoss !== null && s.lastRound?.validationLoss !== undefined) g.set(s.lastRound.validationLoss);
  });
  gauge('edgewise_learning_failures_total', 'Rounds that ended without an update, by code', ['code'], (g, s) => {
    for (const [code, n] of Object.entries(s.failures)) g.set({ code }, n);
  });
}
