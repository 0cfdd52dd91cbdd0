import type { StrategyOptions } from '../strategies/strategy.js';
import type { Quantisation } from './task.js';

/**
 * What the fleet tells every gateway about an open round: the retained MQTT message on the
 * learning topic. It carries what a drawn gateway needs to train and send (the global model's
 * version, epochs, learning rate, clip norm, the rule's options such as FedProx's mu, how to
 * quantise, the deadline) and names NO gateway: who was drawn is told to each drawn gateway
 * alone (`RoundInvitation`, on its own topic), so that the sample stays secret, as the privacy
 * accounting assumes (sampling.ts). JSON-ready; its wire encoding and the gateway's decoder
 * belong in fleet/protocol once the MQTT wiring is built.
 */
export interface RoundAnnouncement {
  readonly v: 1;
  readonly task: string;
  readonly round: number;
  readonly model: string;
  /** The global model release the gateways start from and send a delta against. */
  readonly globalModelVersion: number;
  readonly localEpochs: number;
  readonly learningRate: number;
  /** Gateways clip what they send (delta plus error-feedback residual) to this L2 norm. */
  readonly clipNorm: number;
  readonly strategy: { readonly type: string; readonly options: StrategyOptions };
  readonly quantisation: Quantisation;
  readonly secureAggregation: boolean;
  /** Secure rounds: the int8 scale every gateway quantises with (secure-sum.ts `secureScale`); null otherwise (a scale per tensor and gateway). */
  readonly sharedScale: number | null;
  /** On the fleet's clock (milliseconds since the epoch); an update must be complete on the fleet before it. */
  readonly openedAtMs: number;
  readonly deadlineAtMs: number;
}

/** To one drawn gateway, on its own topic: you are in this round. */
export interface RoundInvitation {
  readonly v: 1;
  readonly task: string;
  readonly round: number;
  readonly gateway: string;
}
