import { defineStage } from '../../runtime/pipeline/registry.js';
import { anomalyProblems, anomalySchema } from './schema.js';

// The stage (anomaly-stage.ts: the detectors, the autoencoder trainer, ONNX export) is
// imported by `create` only: a gateway without anomaly stages never loads it (memory bench,
// README). Import `AnomalyStage` from anomaly-stage.js.

/** Defaults of the anomaly stage, in one place (the README's table is written from here). */
export const ANOMALY_DEFAULTS = {
  // Scores are L / (L + 10) for evidence L = -log10 p: 0.4 is p = 1e-7, 0.3 is p = 2e-5.
  alert: { raiseThreshold: 0.4, clearThreshold: 0.3, minDurationMs: 5000, cooldownMs: 300_000, groupShare: 0.2, smoothingMs: 3000 },
  // One hour of normal running, 4000 windows of it: ~3 MB while collecting, ~5 s of training on one core.
  autoencoder: { windowSamples: 32, strideSamples: 16, trainMs: 3_600_000, trainWindows: 4000, hidden: [32, 8, 32], epochs: 30, learningRate: 0.003, seed: 1 },
} as const;

export const anomalyStagePlugin = defineStage({
  type: 'anomaly',
  configSchema: anomalySchema,
  // Scores samples; every record goes on as it came, with alerts (and results) added.
  flow: { accepts: ['samples'], emits: ['events'], passes: ['samples', 'summaries', 'events'] },
  check: (config, ctx) => anomalyProblems(config, ANOMALY_DEFAULTS.alert, ctx),
  providerKeys: [['autoencoder', 'providers']],
  create: async (config, env) => {
    const { managed, ...rest } = config.autoencoder ?? {};
    if (managed !== undefined && env.models === undefined) throw new Error('anomaly: autoencoder.managed needs a gateway with signed updates');
    if (managed !== undefined && (config.detector ?? 'streaming') !== 'autoencoder') throw new Error('anomaly: autoencoder.managed needs detector: autoencoder');
    const d = ANOMALY_DEFAULTS;
    const { smoothingMs, ...alert } = { ...d.alert, ...(config.alert ?? {}) };
    if (alert.clearThreshold > alert.raiseThreshold) throw new RangeError(`anomaly: alert.clearThreshold (${alert.clearThreshold}) must not exceed raiseThreshold (${alert.raiseThreshold})`);
    const [{ AnomalyStage }, { AlertLedger }] = await Promise.all([import('./anomaly-stage.js'), import('./alert-ledger.js')]);
    // Alert ids go on across restarts, and alerts left open by a crash are closed (alert-ledger.ts).
    const alerts = await AlertLedger.open(env.stateDir, env.events);
    return new AnomalyStage(
      {
        detector: config.detector ?? 'streaming',
        smoothingMs,
        channels: config.channels,
        modelName: config.model?.name,
        modelVersion: config.model?.version,
        alert,
        scoreEveryMs: config.scoreEveryMs ?? 0,
        streaming: config.streaming ?? {},
        // Each setting left out of the config keeps its default.
        autoencoder: { ...d.autoencoder, ...rest },
        backend: env.backend,
        ...(managed === undefined || env.models === undefined ? {} : { managed: { name: managed, source: env.models } }),
        ...(managed === undefined || env.learning === undefined ? {} : { learning: env.learning }),
        alerts,
      },
      env.stateDir,
      env.decisions,
      env.events,
    );
  },
});
