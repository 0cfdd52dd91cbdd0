import { trimmedMean } from '../../fleet/federated/strategies/index.js';
import { seededRandom } from '../../models/train/random.js';
import { trainCentralised } from '../../sim/federated/centralised.js';
import { buildDataset } from '../../sim/federated/dataset.js';
import { bytesRatio, finalLoss, lossGap } from '../../sim/federated/measures.js';
import { parametersOf } from '../../sim/federated/model-tensors.js';
import { FEDERATED_SIM, WITHIN_CENTRAL } from '../../sim/federated/scenario.js';
import { roundsToWithin, runFederated } from '../../sim/federated/simulation.js';
import { autoencoderUpdates, medianTime } from './federated-strategies.js';
import { progress } from './report.js';

/**
 * `npm run bench -- federated [--density 0.5] [--rounds 40]`: issue 14's numbers from the
 * in-process simulation (sim/federated): 20 gateways with different motors; the autoencoder
 * trained centrally on the pooled windows (the baseline), then FedAvg with raw float32 updates
 * and with top-k int8 updates (error feedback). Prints exactly the issue's line:
 * {"bench":"federated","bytes_ratio":B,"rounds_to_5pct":R,"agg_ms_1000":A,"loss_gap":G}
 * B: float32 bytes per client per round over the codec's measured message size; R: the first
 * round whose global model is within 5% of the centralised model's pooled validation loss
 * (null: never in the run); A: the trimmed mean (trimShare 0.1) of 1,000 updates of the
 * autoencoder's size, median of 3 (as `federated-strategies` measures it); G: the final
 * validation loss of the top-k run relative to the float32 run's. Deterministic but for A.
 */
export async function benchFederated(args: readonly string[]): Promise<void> {
  const option = (name: string, fallback: string): string => (args.includes(name) ? (args[args.indexOf(name) + 1] ?? fallback) : fallback);
  const density = Number(option('--density', String(FEDERATED_SIM.topK.density)));
  const rounds = Number(option('--rounds', String(FEDERATED_SIM.federated.rounds)));
  const t0 = performance.now();
  const data = buildDataset(FEDERATED_SIM.data);
  progress(`data: ${data.gateways.length} gateways, ${data.pooledTrain.count} training windows, ${data.pooledValidation.count} pooled validation windows (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
  const central = await trainCentralised(data, FEDERATED_SIM.central);
  progress(`centralised (${FEDERATED_SIM.central.epochs} epochs): pooled validation loss ${central.validationLoss.toFixed(5)}`);
  const federated = { ...FEDERATED_SIM.federated, rounds };
  const float32 = await runFederated(data, federated);
  progress(`float32 FedAvg, ${rounds} rounds: ${finalLoss(float32).toFixed(5)}, within 5% of central at round ${roundsToWithin(float32, central.validationLoss, WITHIN_CENTRAL) ?? 'never'}`);
  const topK = await runFederated(data, { ...federated, transport: { type: 'top-k', density } });
  const roundsTo5 = roundsToWithin(topK, central.validationLoss, WITHIN_CENTRAL);
  progress(`top-k ${density} int8 FedAvg: ${finalLoss(topK).toFixed(5)}, within 5% of central at round ${roundsTo5 ?? 'never'}, ${topK.rounds[0]?.updateBytes.toFixed(0)} bytes per update`);
  const parameters = parametersOf(topK.model).reduce((n, p) => n + p.length, 0);
  const shapes = parametersOf(topK.model).map((p) => p.length);
  const updates = autoencoderUpdates(shapes, 1000, seededRandom(14));
  const aggMs = medianTime('trimmed-mean 0.1, 1,000 updates', 3, () => trimmedMean.aggregate(updates, { trimShare: 0.1 }));
  progress(`total ${((performance.now() - t0) / 1000).toFixed(0)} s`);
  const line = {
    bench: 'federated',
    bytes_ratio: Math.round(bytesRatio(topK, parameters) * 100) / 100,
    rounds_to_5pct: roundsTo5,
    agg_ms_1000: Math.round(aggMs * 10) / 10,
    loss_gap: Math.round(lossGap(topK, float32) * 10_000) / 10_000,
  };
  process.stdout.write(`${JSON.stringify(line)}\n`);
}
