import type { RoundAnnouncementMessage } from '../../fleet/protocol/federated/announcement.js';
import type { RandomSource } from '../../fleet/protocol/federated/random-source.js';
import { encodeSecAggMessage, type GatewaySecAggMessage } from '../../fleet/protocol/federated/secagg-message.js';
import type { FloatTensor } from '../../fleet/protocol/federated/tensor.js';
import { INT8_LEVELS, planRound, quantiseShared, SecAggClient } from '../../fleet/protocol/secure-aggregation/index.js';
import { learningTopics } from '../../fleet/protocol/topics.js';
import type { UploadChannel } from './chunk-upload.js';
import type { LocalTrainingResult } from './learner.js';
import type { SecAggInbox } from './secagg-inbox.js';

export interface SecureParticipation {
  readonly gatewayId: string;
  readonly channel: UploadChannel;
  /** What the fleet relays for this round (round params, roster, shares, unmasking request). */
  readonly inbox: SecAggInbox;
  /** Stochastic rounding's coins. */
  readonly random: RandomSource;
  /** Aborts at the round's deadline, when the round is superseded or cleared, or when the gateway stops. */
  readonly signal: AbortSignal;
  /** Each message sent, once its PUBACK came. */
  readonly onSent: (step: GatewaySecAggMessage['step'], bytes: number) => void;
}

/**
 * The gateway's side of a secure round (fleet/protocol/secure-aggregation, PROTOCOL.md "Secure
 * aggregation"), over its learning-secagg topics: takes the round's parameters, advertises
 * fresh keys at once (training runs meanwhile: the fleet's first steps are short), deals its
 * shares, and once `training` has its delta and the shares are in, clips the delta to the clip
 * norm, quantises it with the round's SHARED scale into the uint32 ring and sends it masked;
 * then answers the unmasking request. The fleet never sees the delta unmasked.
 *
 * Any failure (the deadline, a message the protocol refuses, training failing) rejects, and the
 * gateway simply stops answering: to the fleet it has dropped out, which the protocol recovers
 * from (before masking: its masks are removed; after: its input stays in the sum).
 */
export async function takePartSecurely(a: RoundAnnouncementMessage, training: Promise<LocalTrainingResult>, p: SecureParticipation): Promise<{ readonly maskedBytes: number }> {
  if (a.quantisation.type !== 'int8' || a.quantisation.scale === null) throw Object.assign(new Error('a secure round must announce a shared int8 scale'), { code: 'E_LEARNING_UNSUPPORTED' });
  const scale = a.quantisation.scale;
  const head = { task: a.task, round: a.round };
  const send = async (m: GatewaySecAggMessage): Promise<number> => {
    const bytes = encodeSecAggMessage(m);
    await publishDurably(p.channel, learningTopics.secAgg(p.gatewayId), bytes, p.signal);
    p.onSent(m.step, bytes.byteLength);
    return bytes.byteLength;
  };
  const params = await p.inbox.next('round-params', p.signal);
  if (params.body.to !== p.gatewayId) throw Object.assign(new Error(`round parameters addressed to ${params.body.to}`), { code: 'E_SECAGG' });
  const client = new SecAggClient(planRound(params.body), p.gatewayId);
  await send({ ...head, step: 'advertise-keys', body: client.advertise() });
  const roster = await p.inbox.next('key-roster', p.signal);
  await send({ ...head, step: 'share-keys', body: await client.shareKeys(roster.body) });
  const delivery = await p.inbox.next('share-delivery', p.signal);
  client.receiveShares(delivery.body);
  const result = await training;
  p.signal.throwIfAborted();
  const input = quantiseClipped(result.tensors, a.clipNorm, scale, p.random);
  const maskedBytes = await send({ ...head, step: 'masked-input', body: client.maskInput(input) });
  const request = await p.inbox.next('unmasking-request', p.signal);
  await send({ ...head, step: 'unmasking-response', body: client.unmask(request.body) });
  return { maskedBytes };
}

/**
 * The delta, every tensor in file order, clipped to L2 norm <= clipNorm and quantised with the
 * shared scale (stochastic rounding) into uint32 ring words: q mod 2^32 with |q| <= 127.
 * No error feedback: the fleet must sum exactly what was rounded this round.
 */
export function quantiseClipped(delta: readonly FloatTensor[], clipNorm: number, scale: number, random: RandomSource): Uint32Array {
  const length = delta.reduce((n, t) => n + t.values.length, 0);
  const flat = new Float64Array(length);
  let at = 0;
  let norm2 = 0;
  for (const t of delta) {
    for (let j = 0; j < t.values.length; j += 1) {
      const v = t.values[j] as number;
      flat[at + j] = v;
      norm2 += v * v;
    }
    at += t.values.length;
  }
  const norm = Math.sqrt(norm2);
  // Clipped a hair under the bound, so that rounding in the product cannot leave a coordinate past clipNorm.
  if (norm > clipNorm) {
    const factor = (clipNorm / norm) * (1 - 1e-12);
    for (let i = 0; i < flat.length; i += 1) flat[i] = (flat[i] as number) * factor;
  }
  return quantiseShared(flat, scale, INT8_LEVELS, random);
}

/** Publishes QoS 1 until the PUBACK, waiting for the next connection while offline; rejects when `signal` aborts. */
async function publishDurably(channel: UploadChannel, topic: string, bytes: Uint8Array, signal: AbortSignal): Promise<void> {
  for (;;) {
    signal.throwIfAborted();
    const before = channel.connects();
    try {
      await channel.publishAcked(topic, bytes);
      return;
    } catch (err) {
      signal.throwIfAborted();
      if ((err as { code?: string }).code !== 'E_UPLINK_OFFLINE') throw err;
    }
    await new Promise<void>((resolve, reject) => {
      const done = (): void => {
        stop();
        signal.removeEventListener('abort', onAbort);
        resolve();
      };
      const onAbort = (): void => {
        stop();
        reject(signal.reason as Error);
      };
      const stop = channel.onConnect(() => {
        if (channel.connects() > before) done();
      });
      signal.addEventListener('abort', onAbort, { once: true });
      if (signal.aborted) onAbort();
      else if (channel.connects() > before) done();
    });
  }
}
