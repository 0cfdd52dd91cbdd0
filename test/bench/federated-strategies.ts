import { reduceCoordinates } from '../../fleet/federated/strategies/coordinatewise.js';
import { fedAvg, median as medianRule, multiKrum, trimmedMean, trimmedPerSide, type ModelUpdate } from '../../fleet/federated/strategies/index.js';
import { ANOMALY_DEFAULTS } from '../../models/anomaly/index.js';
import { Mlp } from '../../models/train/mlp.js';
import { seededRandom } from '../../models/train/random.js';
import { MOTOR_CHANNELS } from '../../sim/mcu/signals.js';
import { finish, median, progress } from './report.js';

/**
 * `npm run bench -- federated-strategies [--updates 1000] [--krum 100,1000] [--rounds 3]`:
 * wall time of each aggregation rule on N updates of the anomaly autoencoder's size (its
 * default window of 32 samples x the 3 motor channels the simulated MCU sends, hidden
 * [32, 8, 32]: the tensor shapes are taken from the trainer's own network). The baseline, same
 * run: weighted FedAvg, one pass over the updates. The value: the trimmed mean (trimShare 0.1),
 * the target being under 1,000 ms for 1,000 updates. Also: the median, the trimmed mean
 * computed by sorting each column (what quickselect saves), and multi-Krum, O(n^2 d), at each
 * `--krum` count (f = (n - 3) / 4). Each figure is the median of `--rounds` runs; the updates
 * are seeded.
 */
export async function benchFederatedStrategies(args: readonly string[]): Promise<void> {
  const option = (name: string, fallback: string): string => (args.includes(name) ? (args[args.indexOf(name) + 1] ?? fallback) : fallback);
  const n = Number(option('--updates', '1000'));
  const krumCounts = option('--krum', '100,1000').split(',').map(Number);
  const rounds = Number(option('--rounds', '3'));

  const { windowSamples, hidden } = ANOMALY_DEFAULTS.autoencoder;
  const dims = windowSamples * MOTOR_CHANNELS.length;
  const network = new Mlp([dims, ...hidden, dims], 1);
  const shapes = network.layers.flatMap((l) => [l.w.length, l.b.length]);
  const parameters = shapes.reduce((a, b) => a + b, 0);
  progress(`autoencoder ${[dims, ...hidden, dims].join('-')}: ${shapes.length} tensors, ${parameters} parameters; ${n} updates, median of ${rounds} runs`);

  const random = seededRandom(14);
  const makeUpdates = (count: number): ModelUpdate[] => autoencoderUpdates(shapes, count, random);
  const updates = makeUpdates(n);
  const time = (label: string, run: () => unknown): number => medianTime(label, rounds, run);

  const fedavgMs = time(`fedavg, ${n} updates`, () => fedAvg.aggregate(updates, {}));
  const trimmedMs = time(`trimmed-mean 0.1, ${n} updates`, () => trimmedMean.aggregate(updates, { trimShare: 0.1 }));
  const medianMs = time(`median, ${n} updates`, () => medianRule.aggregate(updates, {}));
  // What quickselect saves: the same trimmed mean with each column sorted instead.
  const k = trimmedPerSide(0.1, n);
  const bySortMs = time(`trimmed-mean 0.1 by sorting each column, ${n} updates`, () =>
    reduceCoordinates(updates, (column) => {
      column.sort();
      let sum = 0;
      for (let i = k; i < n - k; i += 1) sum += column[i] as number;
      return sum / (n - 2 * k);
    }),
  );
  const krum: Record<string, number> = {};
  for (const count of krumCounts) {
    const some = count <= n ? updates.slice(0, count) : makeUpdates(count);
    const f = Math.floor((count - 3) / 4);
    krum[`multiKrum${count}Ms`] = Math.round(time(`multi-krum f=${f}, ${count} updates`, () => multiKrum.aggregate(some, { byzantineClients: f })));
  }
  finish('federated-strategies', trimmedMs, fedavgMs, 'ms', { updates: n, parameters, medianMs: Math.round(medianMs * 10) / 10, trimmedMeanBySortMs: Math.round(bySortMs * 10) / 10, ...krum });
}

/** `count` seeded updates of the given tensor lengths, values of a local round's size, sample counts 100 to 999. */
export function autoencoderUpdates(shapes: readonly number[], count: number, random: () => number): ModelUpdate[] {
  return Array.from({ length: count }, () => ({ tensors: shapes.map((len) => Float32Array.from({ length: len }, () => (random() - 0.5) * 0.02)), samples: 100 + Math.floor(random() * 900) }));
}

/** The median wall time of `rounds` runs, reported on stderr. */
export function medianTime(label: string, rounds: number, run: () => unknown): number {
  const times: number[] = [];
  for (let r = 0; r < rounds; r += 1) {
    const t0 = performance.now();
    run();
    times.push(performance.now() - t0);
  }
  const ms = median(times);
  progress(`${label}: ${ms.toFixed(1)} ms (runs: ${times.map((t) => t.toFixed(0)).join(', ')})`);
  return ms;
}
