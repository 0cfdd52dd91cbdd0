import { ErrorFeedback, decodeUpdate, encodeUpdate, seededRandom, type FloatTensor, type QuantizedTensor, type TensorLayout, type UpdateMessage } from '../../../../fleet/protocol/federated/index.js';
import { FederatedTaskRounds, parseFederatedTask, type FederatedTask, type GlobalModel, type RoundClose } from '../../../../fleet/federated/round/index.js';
import { seededUniformSource, type UniformSource } from '../../../../fleet/federated/privacy/index.js';

/** A small model: two tensors, 8 parameters (the round logic, not the speed, is under test). */
export const SMALL_LAYOUT: readonly TensorLayout[] = [
  { name: 'layers.0.w', shape: [2, 3] },
  { name: 'layers.0.b', shape: [2] },
];

/** The anomaly autoencoder's layout: 96-32-8-32-96, 6,824 parameters in 8 tensors. */
export function autoencoderLayout(): TensorLayout[] {
  const sizes = [96, 32, 8, 32, 96];
  return sizes.slice(1).flatMap((outputs, i) => [
    { name: `layers.${i}.w`, shape: [outputs, sizes[i] as number] },
    { name: `layers.${i}.b`, shape: [outputs] },
  ]);
}

export const elements = (t: TensorLayout): number => t.shape.reduce((a, b) => a * b, 1);

export function modelOf(layout: readonly TensorLayout[], fill: (k: number, j: number) => number = () => 0, version = 1): GlobalModel {
  return { version, parameters: layout.map((t, k) => ({ name: t.name, shape: [...t.shape], values: Float32Array.from({ length: elements(t) }, (_, j) => fill(k, j)) })) };
}

/** A valid task definition (raw, as an operator writes it); `overrides` replace top-level fields. */
export function rawTask(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id: 'motor-ae',
    model: 'motor-anomaly',
    gatewaySelector: { machineType: 'press-7' },
    strategy: { type: 'fedavg' },
    localEpochs: 2,
    learningRate: 0.01,
    clipNorm: 1,
    minClients: 3,
    samplingShare: 1,
    deadlineMs: 60_000,
    ...overrides,
  };
}

export const task = (overrides: Record<string, unknown> = {}): FederatedTask => parseFederatedTask(rawTask(overrides));

/** A clock that only moves when told to. */
export class FakeClock {
  constructor(public t = 1_000_000) {}
  readonly now = (): number => this.t;
  advance(ms: number): void {
    this.t += ms;
  }
}

/** A uniform source that returns these numbers in turn (then 0.5): to draw exactly the gateways a test wants. */
export function scripted(draws: readonly number[]): UniformSource {
  let i = 0;
  return () => (i < draws.length ? (draws[i++] as number) : 0.5);
}

export const gateways = (n: number): string[] => Array.from({ length: n }, (_, i) => `gw-${String(i).padStart(2, '0')}`);

/** Float tensors of the layout with the given values per tensor (a delta). */
export function delta(layout: readonly TensorLayout[], fill: (k: number, j: number) => number): FloatTensor[] {
  return layout.map((t, k) => ({ name: t.name, shape: [...t.shape], values: Float32Array.from({ length: elements(t) }, (_, j) => fill(k, j)) }));
}

/**
 * An update as a gateway makes it: the delta (plus error-feedback residual) clipped to the clip
 * norm, quantised to int8 (top-k when `density` < 1), encoded and decoded with the real codec.
 */
export function gatewayUpdate(o: { gateway: string; round: number; task?: string; deltas: FloatTensor[]; samples?: number; validationLoss?: number | null; clipNorm?: number; density?: number; seed?: number; feedback?: ErrorFeedback }): UpdateMessage {
  const feedback = o.feedback ?? new ErrorFeedback(o.deltas);
  const tensors = feedback.compress(o.deltas, seededRandom(o.seed ?? 7), { density: o.density ?? 1, ...(o.clipNorm === undefined ? {} : { clipNorm: o.clipNorm }) });
  return decodeUpdate(encodeUpdate({ round: o.round, task: o.task ?? 'motor-ae', client: o.gateway, samples: o.samples ?? 100, validationLoss: o.validationLoss ?? null, tensors }));
}

/** An update message built by hand (not through the quantiser): for values the codec would never make. */
export function rawUpdate(gateway: string, round: number, tensors: QuantizedTensor[], extra: Partial<UpdateMessage> = {}): UpdateMessage {
  return { round, task: 'motor-ae', client: gateway, samples: 10, validationLoss: null, tensors, ...extra };
}

/** Dense int8 tensors of the layout, every q = `q`, one scale. */
export function flatQuantized(layout: readonly TensorLayout[], q: number, scale: number): QuantizedTensor[] {
  return layout.map((t) => ({ name: t.name, shape: [...t.shape], scale, q: new Int8Array(elements(t)).fill(q) }));
}

export interface Harness {
  readonly clock: FakeClock;
  readonly rounds: FederatedTaskRounds;
  readonly revoked: Set<string>;
}

export function harness(t: FederatedTask, extra: { privacyHistory?: FederatedTaskRounds['privacyHistory'] } = {}): Harness {
  const clock = new FakeClock();
  const revoked = new Set<string>();
  const rounds = new FederatedTaskRounds({ task: t, now: clock.now, isActiveGateway: (id) => id.startsWith('gw-') && !revoked.has(id), ...extra });
  return { clock, rounds, revoked };
}

/** Opens round `round` of a harness, expecting it to open; returns the drawn gateways. */
export function openOrFail(h: Harness, round: number, model: GlobalModel, eligible: readonly string[], seed: number | UniformSource = 1): string[] {
  const r = h.rounds.open({ round, globalModel: model, eligibleGateways: eligible, random: typeof seed === 'number' ? seededUniformSource(seed) : seed });
  if (r.status !== 'opened') throw new Error(`round ${round} did not open: ${r.detail}`);
  return r.invitations.map((i) => i.gateway);
}

export function closeOrFail(h: Harness): RoundClose {
  const c = h.rounds.closeIfDue();
  if (c === null) throw new Error('the round was not due');
  return c;
}
