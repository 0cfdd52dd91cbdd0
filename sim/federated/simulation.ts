import { seededRandom } from '../../fleet/protocol/federated/index.js';
import { configureAggregation, type ModelUpdate } from '../../fleet/federated/strategies/index.js';
import { createAdamState } from '../../models/train/adam.js';
import { Mlp } from '../../models/train/mlp.js';
import { byzantinePayload, type AttackKind } from './byzantine.js';
import type { FederatedDataset } from './dataset.js';
import { trainLocally, type LocalTrainingOptions } from '../../models/train/local-training.js';
import { applyDelta, deltaOf, layoutOf, reconstructionLoss } from './model-tensors.js';
import { acceptUpdate, GatewayEncoder, payloadBytes, type RejectReason, type Transport, type UpdatePayload } from './update-transport.js';

export interface FederatedRunOptions {
  readonly task: string;
  readonly rounds: number;
  readonly hidden: readonly number[];
  /** The global model's initialisation (the centralised baseline uses the same seed). */
  readonly initSeed: number;
  readonly local: Omit<LocalTrainingOptions, 'seed'>;
  /** Each gateway keeps its Adam moments from round to round instead of starting fresh (compared in the README). */
  readonly keepAdamState?: boolean;
  /** The local learning rate of round r is learningRate x decay^(r - 1) (1: constant). */
  readonly learningRateDecay?: number;
  readonly transport: Transport;
  /** The aggregation rule by its registry name, and its options (fleet/federated/strategies). */
  readonly aggregation: { readonly strategy: string; readonly options?: Readonly<Record<string, number>> };
  /** The task's quorum: a round with fewer accepted updates closes without a new model. */
  readonly minClients: number;
  /** Gateways (by index) that send a corrupted update every round, and how. */
  readonly attackers?: ReadonlyMap<number, AttackKind>;
  /** Seeds local batch orders, stochastic rounding and the attackers' noise. */
  readonly seed: number;
  readonly onRound?: (r: RoundRecord) => void;
}

export interface RoundRecord {
  /** 1-based: the global model after this many rounds. */
  readonly round: number;
  /** The new global model's loss on the pooled validation windows. */
  readonly validationLoss: number;
  readonly accepted: number;
  readonly rejected: Readonly<Partial<Record<RejectReason, number>>>;
  /** Mean payload bytes of the honest gateways' updates this round. */
  readonly updateBytes: number;
  /** The mean of the `valLoss` the accepted updates reported (each gateway's own held-out windows). */
  readonly reportedValidationLoss: number;
  /** False when too few updates were accepted and the model was kept. */
  readonly updated: boolean;
  /** Wall time of the aggregation rule (for the README; never asserted). */
  readonly aggregateMs: number;
}

export interface FederatedRun {
  readonly model: Mlp;
  /** Pooled validation loss of the initial model (round 0). */
  readonly initialLoss: number;
  readonly rounds: readonly RoundRecord[];
}

/** A 32-bit seed for (run seed, gateway, round): distinct streams, reproducible. */
export function mixSeed(...parts: readonly number[]): number {
  let h = 0x811c9dc5;
  for (const p of parts) {
    h = Math.imul(h ^ (p >>> 0), 0x01000193) >>> 0;
    h = Math.imul(h ^ (h >>> 15), 0x2c1b3c6d) >>> 0;
  }
  return h >>> 0;
}

/**
 * Federated averaging in one process, with every moving part of the real system but the
 * network: each round, every gateway trains E local epochs from the global model on its own
 * windows, encodes its delta with the real codec (or sends raw float32, the baseline), the
 * fleet checks and decodes each update as it would off MQTT, the task's aggregation rule
 * combines the accepted ones, and the global model moves by the result. After each round the
 * global model is judged on the pooled validation windows, which no gateway trains on.
 */
export async function runFederated(data: FederatedDataset, o: FederatedRunOptions): Promise<FederatedRun> {
  checkRunOptions(data, o);
  const model = new Mlp([data.dims, ...o.hidden, data.dims], o.initSeed);
  const layout = layoutOf(model);
  const aggregation = configureAggregation({ strategy: o.aggregation.strategy, options: o.aggregation.options, minClients: o.minClients, secureAggregation: false });
  const encoders = data.gateways.map((_, i) => new GatewayEncoder(o.transport, layout, mixSeed(o.seed, i, 0x0e4c)));
  const attackRandom = seededRandom(mixSeed(o.seed, 0xbad));
  const adamStates = data.gateways.map(() => (o.keepAdamState === true ? createAdamState(model) : undefined));
  const initialLoss = reconstructionLoss(model, data.pooledValidation.x, data.pooledValidation.count);
  const rounds: RoundRecord[] = [];
  for (let round = 1; round <= o.rounds; round += 1) {
    const payloads: UpdatePayload[] = [];
    const honestBytes: number[] = [];
    for (const [i, g] of data.gateways.entries()) {
      const { model: local } = await trainLocally(model, g.train, g.trainCount, { ...o.local, learningRate: o.local.learningRate * (o.learningRateDecay ?? 1) ** (round - 1), seed: mixSeed(o.seed, i, round), ...(adamStates[i] === undefined ? {} : { adamState: adamStates[i] }) });
      const delta = deltaOf(local, model);
      const meta = { round, task: o.task, client: g.gateway, samples: g.trainCount, validationLoss: reconstructionLoss(local, g.localValidation, g.localValidationCount) };
      const attack = o.attackers?.get(i);
      const encoder = encoders[i] as GatewayEncoder;
      const payload = attack === undefined ? encoder.encode(delta, meta) : byzantinePayload(attack, delta, meta, encoder, attackRandom);
      if (attack === undefined) honestBytes.push(payloadBytes(payload));
      payloads.push(payload);
    }
    // The fleet's side of the round: checks, then the rule over what passed.
    const answered = new Set<string>();
    const rejected: Partial<Record<RejectReason, number>> = {};
    const updates: ModelUpdate[] = [];
    const reported: number[] = [];
    for (const p of payloads) {
      const intake = acceptUpdate(p, round, layout, answered);
      if (!intake.accepted) {
        rejected[intake.reason] = (rejected[intake.reason] ?? 0) + 1;
        continue;
      }
      updates.push({ tensors: intake.tensors, samples: intake.samples });
      if (intake.validationLoss !== null) reported.push(intake.validationLoss);
    }
    const updated = updates.length >= Math.max(o.minClients, aggregation.minUpdates);
    let aggregateMs = 0;
    if (updated) {
      const t0 = performance.now();
      const { tensors } = aggregation.aggregate(updates);
      aggregateMs = performance.now() - t0;
      applyDelta(model, tensors);
    }
    const record: RoundRecord = {
      round,
      validationLoss: reconstructionLoss(model, data.pooledValidation.x, data.pooledValidation.count),
      accepted: updates.length,
      rejected,
      updateBytes: honestBytes.reduce((a, b) => a + b, 0) / Math.max(1, honestBytes.length),
      reportedValidationLoss: reported.reduce((a, b) => a + b, 0) / Math.max(1, reported.length),
      updated,
      aggregateMs,
    };
    rounds.push(record);
    o.onRound?.(record);
  }
  return { model, initialLoss, rounds };
}

function checkRunOptions(data: FederatedDataset, o: FederatedRunOptions): void {
  if (data.gateways.length === 0) throw new RangeError('federated run: no gateways');
  if (!Number.isInteger(o.rounds) || o.rounds < 1 || o.rounds > 10_000) throw new RangeError(`federated run: rounds must be an integer from 1 to 10,000, got ${o.rounds}`);
  if (!Number.isInteger(o.local.epochs) || o.local.epochs < 1) throw new RangeError(`federated run: local.epochs must be a positive integer, got ${o.local.epochs}`);
  if (!Number.isInteger(o.local.batchSize) || o.local.batchSize < 1) throw new RangeError(`federated run: local.batchSize must be a positive integer, got ${o.local.batchSize}`);
  if (!(o.local.learningRate > 0 && Number.isFinite(o.local.learningRate))) throw new RangeError(`federated run: local.learningRate must be a positive number, got ${o.local.learningRate}`);
  const decay = o.learningRateDecay ?? 1;
  if (!(decay > 0 && decay <= 1)) throw new RangeError(`federated run: learningRateDecay must be in (0, 1], got ${decay}`);
  for (const i of o.attackers?.keys() ?? []) if (!Number.isInteger(i) || i < 0 || i >= data.gateways.length) throw new RangeError(`federated run: attacker ${i} is not one of the ${data.gateways.length} gateways`);
}

/** The first round whose global model's pooled validation loss is within `share` of `target`, or null. */
export function roundsToWithin(run: FederatedRun, target: number, share: number): number | null {
  return run.rounds.find((r) => r.validationLoss <= target * (1 + share))?.round ?? null;
}
