import { encodeSecAggMessage, type FleetSecAggMessage, type GatewaySecAggMessage } from '../../../../fleet/protocol/federated/index.js';
import { INT8_LEVELS, planRound, quantiseShared, SecAggClient } from '../../../../fleet/protocol/secure-aggregation/index.js';
import { learningTopics } from '../../../../fleet/protocol/topics.js';
import { waitFor } from '../../../support/wait-for.js';
import { seededBytes, seededUniform } from '../../protocol/secure-aggregation/seeded.js';
import type { ScriptedGateway } from './round-service-rig.js';

/** Where a scripted gateway stops in a secure round. */
export type SecureBehaviour =
  /** Every step. */
  | 'full'
  /** Never advertises keys (in the sample, not in U1). */
  | 'silent'
  /** Advertises and deals shares, then vanishes before masking (in U2, not U3). */
  | 'drop-before-masking'
  /** Sends its masked input, then never answers the unmasking request (in U3, no response). */
  | 'silent-at-unmasking';

type Relay<S extends FleetSecAggMessage['step']> = Extract<FleetSecAggMessage, { step: S }>;

/**
 * A gateway in a secure round as the test scripts it: the protocol's own client (SecAggClient)
 * over the scripted gateway's real MQTT connection, its delta quantised with the announced
 * shared scale. `input` is the quantised vector it masked (null until then): the test's
 * plain sum is made from these, to compare with what the fleet unmasked.
 */
export class SecureScript {
  input: Uint32Array | null = null;
  /** Each secure message it sent: its bytes (what the broker carried). */
  readonly sent: { step: GatewaySecAggMessage['step']; bytes: number }[] = [];

  constructor(
    readonly gw: ScriptedGateway,
    private readonly task: string,
    private readonly round: number,
    private readonly delta: Float64Array,
    private readonly behaviour: SecureBehaviour = 'full',
  ) {}

  private next<S extends FleetSecAggMessage['step']>(step: S): Promise<Relay<S>> {
    return waitFor(() => this.gw.relay.find((m): m is Relay<S> => m.step === step && m.task === this.task && m.round === this.round), `${this.gw.id}: ${step} of round ${this.round}`);
  }

  private async send(m: GatewaySecAggMessage): Promise<void> {
    const bytes = encodeSecAggMessage(m);
    this.sent.push({ step: m.step, bytes: bytes.byteLength });
    await this.gw.client.publishAsync(learningTopics.secAgg(this.gw.id), Buffer.from(bytes), { qos: 1 });
  }

  async run(): Promise<void> {
    const head = { task: this.task, round: this.round };
    const params = await this.next('round-params');
    const a = await waitFor(() => this.gw.announcements.find((x) => x?.task === this.task && x.round === this.round), `${this.gw.id}: announcement of round ${this.round}`);
    if (a.quantisation.type !== 'int8' || a.quantisation.scale === null) throw new Error('a secure round announces a shared int8 scale');
    const scale = a.quantisation.scale;
    if (this.behaviour === 'silent') return;
    const client = new SecAggClient(planRound(params.body), this.gw.id, { randomBytes: seededBytes(`${this.gw.id}/${this.round}`) });
    await this.send({ ...head, step: 'advertise-keys', body: client.advertise() });
    const roster = await this.next('key-roster');
    await this.send({ ...head, step: 'share-keys', body: await client.shareKeys(roster.body) });
    if (this.behaviour === 'drop-before-masking') return;
    const delivery = await this.next('share-delivery');
    client.receiveShares(delivery.body);
    this.input = quantiseShared(this.delta, scale, INT8_LEVELS, seededUniform(`${this.gw.id}/coins`));
    await this.send({ ...head, step: 'masked-input', body: client.maskInput(this.input) });
    if (this.behaviour === 'silent-at-unmasking') return;
    const request = await this.next('unmasking-request');
    await this.send({ ...head, step: 'unmasking-response', body: client.unmask(request.body) });
  }
}

/** The sum mod 2^32 of `inputs`, word by word: what the fleet must unmask. */
export function ringSum(inputs: readonly Uint32Array[]): Uint32Array {
  const sum = new Uint32Array((inputs[0] as Uint32Array).length);
  for (const x of inputs) for (let i = 0; i < sum.length; i += 1) sum[i] = (sum[i] as number) + (x[i] as number);
  return sum;
}
