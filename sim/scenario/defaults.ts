/** A scenario's defaults, in one place: what a key left out means (sim/README.md lists them). */
export const SCENARIO_DEFAULTS = {
  seed: 1,
  site: 'plant-1',
  mode: 'in-process',
  budgetBytes: 64 * 2 ** 20,
  mcuRateHz: 200,
  camera: { fps: 5, width: 320, height: 240, defectShare: 0.2 },
  synthetic: { rateHz: 10, channels: 3 },
  waves: '1, 50%, 100%',
  learningRounds: 1,
  learningStrategy: 'median',
  httpPort: 0,
} as const;

