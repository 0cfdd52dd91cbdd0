import type { Infer } from 'tjs';
import type { CheckContext, PluginProblem } from '../../runtime/pipeline/registry.js';
import { STREAMING_DEFAULTS } from './streaming/detector.js';

const threshold = { type: 'number', minimum: 0, maximum: 1 } as const;

/** Blocks a drift band may hold while they wait out its lag (memory bound). */
export const MAX_BAND_BLOCKS = 10_000;

export const anomalySchema = {
  type: 'object',
  properties: {
    type: { const: 'anomaly' },
    /** `streaming`: per-channel detector, learns online. `autoencoder`: multivariate, trained on the gateway. */
    detector: { enum: ['streaming', 'autoencoder'] },
    /** Channels of `data.values` to watch; default: every channel that carries numbers. */
    channels: { type: 'array', items: { type: 'string', minLength: 1 }, minItems: 1, maxItems: 64, uniqueItems: true },
    /** Name and version written to the decision log with every alert. */
    model: {
      type: 'object',
      properties: { name: { type: 'string', minLength: 1, maxLength: 64 }, version: { type: 'string', minLength: 1, maxLength: 32 } },
      additionalProperties: false,
    },
    alert: {
      type: 'object',
      properties: {
        raiseThreshold: threshold,
        clearThreshold: threshold,
        minDurationMs: { type: 'integer', minimum: 0, maximum: 86_400_000 },
        cooldownMs: { type: 'integer', minimum: 0, maximum: 86_400_000 },
        groupShare: threshold,
        smoothingMs: { type: 'integer', minimum: 0, maximum: 3_600_000 },
      },
      additionalProperties: false,
    },
    /**
     * The streaming detector's drift band (see streaming/detector.ts): a value beyond the range
     * the channel moved in before the last `bandLagMs` (over at least `bandMinHistoryMs` of
     * history, in blocks of `bandBlockMs`) by more than `bandMargin` of that range is news. The
     * defaults suit a plant (minutes to hours); a simulation compressed in time shortens them.
     */
    streaming: {
      type: 'object',
      properties: {
        bandLagMs: { type: 'integer', minimum: 100, maximum: 7 * 86_400_000 },
        bandMinHistoryMs: { type: 'integer', minimum: 0, maximum: 7 * 86_400_000 },
        bandBlockMs: { type: 'integer', minimum: 100, maximum: 3_600_000 },
        bandMargin: { type: 'number', minimum: 0, maximum: 100 },
      },
      additionalProperties: false,
    },
    /** Emit a `result` record with the highest score and its explanation every this many ms (0: never). */
    scoreEveryMs: { type: 'integer', minimum: 0, maximum: 86_400_000 },
    autoencoder: {
      type: 'object',
      properties: {
        /** Use the fleet's signed releases of this model (the gateway's `updates` section) instead of training here. */
        managed: { type: 'string', pattern: '^[a-z0-9][a-z0-9._-]{0,63}$', description: 'a model name known to the updater' },
        windowSamples: { type: 'integer', minimum: 2, maximum: 1024 },
        strideSamples: { type: 'integer', minimum: 1, maximum: 1024 },
        /** Time of normal running the model learns from, from the first sample (cover every load and the warm-up). */
        trainMs: { type: 'integer', minimum: 1000, maximum: 7 * 86_400_000 },
        /** Windows kept for training, sampled uniformly over trainMs. */
        trainWindows: { type: 'integer', minimum: 64, maximum: 100_000 },
        hidden: { type: 'array', items: { type: 'integer', minimum: 1, maximum: 1024 }, minItems: 1, maxItems: 5 },
        epochs: { type: 'integer', minimum: 1, maximum: 1000 },
        learningRate: { type: 'number', exclusiveMinimum: 0, maximum: 1 },
        seed: { type: 'integer', minimum: 0, maximum: 4_294_967_295 },
        providers: { type: 'array', items: { type: 'string', minLength: 1 }, minItems: 1, maxItems: 8 },
      },
      additionalProperties: false,
    },
  },
  required: ['type'],
  additionalProperties: false,
} as const;

type AnomalyConfig = Infer<typeof anomalySchema>;

/**
 * The anomaly stage's cross-field rules, which a schema cannot say. Run at `--check` and
 * before every start (a start never fails on them); `alertDefaults` fills keys left out.
 */
export function anomalyProblems(
  config: AnomalyConfig,
  alertDefaults: { readonly raiseThreshold: number; readonly clearThreshold: number },
  ctx: CheckContext,
): PluginProblem[] {
  const problems: PluginProblem[] = [];
  const raise = config.alert?.raiseThreshold ?? alertDefaults.raiseThreshold;
  const clear = config.alert?.clearThreshold ?? alertDefaults.clearThreshold;
  if (clear > raise) {
    // Hysteresis: an alert raised at `raise` clears below `clear`; above it, it would clear at once and raise again.
    problems.push(
      config.alert?.clearThreshold === undefined
        ? { path: ['alert', 'raiseThreshold'], expected: `a number >= alert.clearThreshold (${clear}, the default)`, got: String(raise) }
        : { path: ['alert', 'clearThreshold'], expected: `a number <= alert.raiseThreshold (${raise}${config.alert?.raiseThreshold === undefined ? ', the default' : ''})`, got: String(clear) },
    );
  }
  const band = config.streaming;
  if (band !== undefined) {
    // The band's blocks wait out the lag in a list of lag / block entries: keep it bounded.
    const lag = band.bandLagMs ?? STREAMING_DEFAULTS.bandLagMs;
    const block = band.bandBlockMs ?? STREAMING_DEFAULTS.bandBlockMs;
    if (lag / block > MAX_BAND_BLOCKS) {
      problems.push({ path: ['streaming', band.bandBlockMs === undefined ? 'bandLagMs' : 'bandBlockMs'], expected: `at most ${MAX_BAND_BLOCKS} blocks in the lag (bandBlockMs >= bandLagMs / ${MAX_BAND_BLOCKS} = ${Math.ceil(lag / MAX_BAND_BLOCKS)})`, got: `bandLagMs ${lag}, bandBlockMs ${block}` });
    }
    if ((config.detector ?? 'streaming') !== 'streaming') problems.push({ path: ['streaming'], expected: 'detector: streaming (the section tunes the streaming detector)', got: `detector ${config.detector ?? 'streaming'}` });
  }
  const managed = config.autoencoder?.managed;
  if (managed !== undefined) {
    const detector = config.detector ?? 'streaming';
    if (detector !== 'autoencoder') problems.push({ path: ['autoencoder', 'managed'], expected: 'detector: autoencoder with a managed model', got: `detector ${detector}${config.detector === undefined ? ' (the default)' : ''}` });
    if (ctx.updates === null) problems.push({ path: ['autoencoder', 'managed'], expected: 'an `updates` section (managed models arrive as signed releases)', got: 'a config without one' });
  }
  return problems;
}
