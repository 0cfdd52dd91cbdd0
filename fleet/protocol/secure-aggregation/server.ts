import { timingSafeEqual } from 'node:crypto';
import { pairMaskSeed, selfMaskCommitment, shareDigest, type ShareKind } from './derive.js';
import { secAggFail } from './errors.js';
import {
  checkAdvertiseKeys,
  checkMaskedInput,
  checkShareKeys,
  checkUnmaskingResponse,
  type AdvertiseKeys,
  type ClientKeys,
  type KeyRoster,
  type MaskedInput,
  type ShareDelivery,
  type ShareDigests,
  type ShareKeys,
  type UnmaskingRequest,
  type UnmaskingResponse,
} from './messages.js';
import type { RoundPlan } from './params.js';
import { addMask } from './prg.js';
import { combineShares } from './shamir.js';
import { agree, x25519FromSecret } from './x25519.js';

type Phase = 'advertising' | 'sharing' | 'masking' | 'unmasking' | 'finished' | 'failed';

interface Dealt {
  readonly commitment: Uint8Array;
  readonly digests: ReadonlyMap<string, ShareDigests>;
  /** Sealed boxes by recipient, kept only until they are delivered. */
  boxes: ReadonlyMap<string, Uint8Array> | null;
}

export interface RejectedShare {
  readonly from: string;
  readonly of: string;
  readonly kind: ShareKind;
}

export interface SecAggResult {
  /** The sum of the survivors' inputs, mod 2^32. */
  readonly sum: Uint32Array;
  /** U3: the clients whose inputs are in the sum. */
  readonly survivors: readonly string[];
  /** U2 \ U3: clients that dealt shares but sent no masked input; their pairwise masks were removed. */
  readonly dropped: readonly string[];
  /** Shares that failed their dealer's digest: left out of every reconstruction. */
  readonly rejectedShares: readonly RejectedShare[];
}

/**
 * The server's side (the fleet): relays keys and sealed shares, adds up masked inputs as they
 * come, and at the end rebuilds exactly what it needs to take the masks off the sum. It holds
 * the running sum of masked inputs, never an input on its own, and for each client shares of
 * one kind only (self-mask shares of survivors, mask-key shares of the dropped). Messages are
 * checked here (they come from gateways); a bad one is E_SECAGG and changes nothing.
 * Each `close*` ends a collection step (the round service calls it on quorum plus deadline).
 */
export class SecAggServer {
  private phase: Phase = 'advertising';
  /** U1 while advertising, then fixed. */
  private readonly keys = new Map<string, ClientKeys>();
  /** Every advertised public key (hex) and whose it is: two clients with one key would share mask seeds. */
  private readonly keyOwners = new Map<string, string>();
  /** U2 (after closeSharing, only the clients whose shares were delivered). */
  private readonly dealt = new Map<string, Dealt>();
  private maskedSum: Uint32Array;
  /** U3. */
  private readonly maskedFrom = new Set<string>();
  private readonly responded = new Set<string>();
  /** Checked shares by dealer, then by holder. */
  private readonly selfMaskShares = new Map<string, Map<string, Uint8Array>>();
  private readonly maskKeyShares = new Map<string, Map<string, Uint8Array>>();
  private readonly rejected: RejectedShare[] = [];
  private result: SecAggResult | null = null;

  constructor(private readonly plan: RoundPlan) {
    this.maskedSum = new Uint32Array(plan.vectorLength);
  }

  /** The step the round is at: `failed` after a step found too few clients left. */
  get step(): Phase {
    return this.phase;
  }

  receiveAdvertisement(input: AdvertiseKeys): void {
    this.expectPhase('advertising', 'advertise-keys');
    const m = checkAdvertiseKeys(input);
    this.expectMember(m.round, m.from, 'advertise-keys');
    if (this.keys.has(m.from)) secAggFail('duplicate', `advertise-keys: ${m.from} advertised keys already`);
    const mask = Buffer.from(m.maskPublicKey).toString('hex');
    const encryption = Buffer.from(m.encryptionPublicKey).toString('hex');
    if (mask === encryption) secAggFail('duplicate-key', `advertise-keys: ${m.from} advertised one key for both purposes`);
    for (const k of [mask, encryption]) {
      const other = this.keyOwners.get(k);
      if (other !== undefined) secAggFail('duplicate-key', `advertise-keys: ${m.from} advertised a public key ${other} already has`);
    }
    // A low-order point would make every peer's key agreement with it fail, stalling the whole
    // round at round 1; X25519 maps it to zero for any private key, so one probe finds it.
    agree(PROBE.privateKey, m.maskPublicKey, m.from);
    agree(PROBE.privateKey, m.encryptionPublicKey, m.from);
    this.keyOwners.set(mask, m.from).set(encryption, m.from);
    this.keys.set(m.from, { id: m.from, maskPublicKey: Uint8Array.from(m.maskPublicKey), encryptionPublicKey: Uint8Array.from(m.encryptionPublicKey) });
  }

  /** Ends round 0: the roster goes to every client in it. */
  closeAdvertising(): KeyRoster {
    this.expectPhase('advertising', 'closing the key advertisements');
    this.requireClients(this.keys.size, 'advertised keys');
    this.phase = 'sharing';
    return { round: this.plan.round, clients: [...this.keys.values()].sort((a, b) => (a.id < b.id ? -1 : 1)) };
  }

  receiveShareKeys(input: ShareKeys): void {
    this.expectPhase('sharing', 'share-keys');
    const m = checkShareKeys(input);
    this.expectMember(m.round, m.from, 'share-keys');
    if (!this.keys.has(m.from)) secAggFail('unknown-client', `share-keys from ${m.from}, which advertised no keys`);
    if (this.dealt.has(m.from)) secAggFail('duplicate', `share-keys: ${m.from} dealt shares already`);
    const holders = this.plan.holders(m.from).filter((h) => this.keys.has(h));
    const digests = new Map(m.digests.map((d) => [d.holder, d]));
    const boxes = new Map(m.boxes.map((b) => [b.to, b.box]));
    const expected = holders.join(',');
    if (digests.size !== m.digests.length || [...digests.keys()].sort().join(',') !== expected) secAggFail('inconsistent', `share-keys from ${m.from}: digests must name each of its holders in the roster once (${expected})`);
    const others = holders.filter((h) => h !== m.from).join(',');
    if (boxes.size !== m.boxes.length || [...boxes.keys()].sort().join(',') !== others) secAggFail('inconsistent', `share-keys from ${m.from}: boxes must go to each of its holders in the roster but itself once (${others})`);
    this.dealt.set(m.from, {
      commitment: Uint8Array.from(m.selfMaskCommitment),
      digests: new Map([...digests].map(([h, d]) => [h, { holder: h, maskKey: Uint8Array.from(d.maskKey), selfMask: Uint8Array.from(d.selfMask) }])),
      boxes: new Map([...boxes].map(([h, b]) => [h, Uint8Array.from(b)])),
    });
  }

  /**
   * Ends round 1: U2 is the clients that dealt shares, less any with fewer than t holders in
   * U2 (its secrets could never be rebuilt; dropping it can leave others short, so this
   * repeats until nothing changes). Returns each member's delivery.
   */
  closeSharing(): ShareDelivery[] {
    this.expectPhase('sharing', 'closing the share dealing');
    let changed = true;
    while (changed) {
      changed = false;
      for (const u of [...this.dealt.keys()]) {
        if (this.plan.holders(u).filter((h) => this.dealt.has(h)).length < this.plan.threshold) {
          this.dealt.delete(u);
          changed = true;
        }
      }
    }
    this.requireClients(this.dealt.size, 'dealt shares');
    const deliveries = [...this.dealt.keys()].sort().map((v) => ({
      round: this.plan.round,
      to: v,
      boxes: this.plan.neighbours(v).flatMap((u) => {
        const box = this.dealt.get(u)?.boxes?.get(v);
        return box === undefined ? [] : [{ from: u, box }];
      }),
    }));
    for (const d of this.dealt.values()) d.boxes = null;
    this.phase = 'masking';
    return deliveries;
  }

  /** Round 2: adds the masked input to the running sum (mod 2^32) and keeps nothing else of it. */
  receiveMaskedInput(input: MaskedInput): void {
    this.expectPhase('masking', 'masked-input');
    const m = checkMaskedInput(input);
    this.expectMember(m.round, m.from, 'masked-input');
    if (!this.dealt.has(m.from)) secAggFail('unknown-client', `masked-input from ${m.from}, which is not among the clients whose shares were delivered`);
    if (this.maskedFrom.has(m.from)) secAggFail('duplicate', `masked-input: ${m.from} sent its masked input already`);
    if (m.masked.length !== this.plan.vectorLength) secAggFail('malformed', `masked-input from ${m.from} has ${m.masked.length} words, the round sums ${this.plan.vectorLength}`);
    const sum = this.maskedSum;
    for (let i = 0; i < sum.length; i += 1) sum[i] = (sum[i] as number) + (m.masked[i] as number);
    this.maskedFrom.add(m.from);
  }

  /** Ends round 2: each survivor (U3) is asked for its shares. Fewer than t survivors stops the round. */
  closeMasking(): UnmaskingRequest[] {
    this.expectPhase('masking', 'closing the masked inputs');
    this.requireClients(this.maskedFrom.size, 'sent masked inputs');
    this.phase = 'unmasking';
    const survivors = [...this.maskedFrom].sort();
    return survivors.map((to) => ({ round: this.plan.round, to, survivors }));
  }

  /**
   * Round 4: keeps each share that matches its dealer's digest; a share that does not is left
   * out and reported. A response that offers a share of the wrong kind (a mask-key share of a
   * survivor, a self-mask share of a dropped client) is refused whole, so the server never
   * holds both kinds for one client.
   */
  receiveUnmaskingResponse(input: UnmaskingResponse): void {
    this.expectPhase('unmasking', 'unmasking-response');
    const m = checkUnmaskingResponse(input);
    this.expectMember(m.round, m.from, 'unmasking-response');
    if (!this.maskedFrom.has(m.from)) secAggFail('unknown-client', `unmasking-response from ${m.from}, which is not a survivor`);
    if (this.responded.has(m.from)) secAggFail('duplicate', `unmasking-response: ${m.from} answered already`);
    const accepted: { kind: ShareKind; of: string; share: Uint8Array }[] = [];
    const rejected: RejectedShare[] = [];
    const take = (kind: ShareKind, list: UnmaskingResponse['selfMaskShares']): void => {
      const seen = new Set<string>();
      for (const { of, share } of list) {
        if (seen.has(of)) secAggFail('duplicate', `unmasking-response from ${m.from} has two ${kind} shares of ${of}`);
        seen.add(of);
        const dealt = this.dealt.get(of);
        const digests = dealt?.digests.get(m.from);
        if (dealt === undefined || digests === undefined) secAggFail('inconsistent', `unmasking-response from ${m.from} offers a share of ${of}, which dealt it none`);
        const survived = this.maskedFrom.has(of);
        if (survived !== (kind === 'self-mask')) secAggFail('inconsistent', `unmasking-response from ${m.from} offers a ${kind} share of ${of}, which ${survived ? 'survived (only its self-mask share may be revealed)' : 'dropped (only its mask-key share may be revealed)'}`);
        const expected = kind === 'self-mask' ? digests.selfMask : digests.maskKey;
        if (timingSafeEqual(shareDigest(this.plan.round, kind, of, m.from, share), expected)) accepted.push({ kind, of, share: Uint8Array.from(share) });
        else rejected.push({ from: m.from, of, kind });
      }
    };
    take('self-mask', m.selfMaskShares);
    take('mask-key', m.maskKeyShares);
    for (const a of accepted) {
      const store = a.kind === 'self-mask' ? this.selfMaskShares : this.maskKeyShares;
      const byHolder = store.get(a.of) ?? new Map<string, Uint8Array>();
      byHolder.set(m.from, a.share);
      store.set(a.of, byHolder);
    }
    this.rejected.push(...rejected);
    this.responded.add(m.from);
  }

  /**
   * Ends round 4: rebuilds b_u of every survivor and the mask key of every dropped client that
   * masked with a survivor, checks each against its commitment or public key, and takes the
   * masks off. Too few good shares for one of them is E_SECAGG naming it; the state is left as
   * it was, so more responses can still come and finish be called again.
   */
  async finish(): Promise<SecAggResult> {
    if (this.phase === 'finished' && this.result !== null) return this.result;
    this.expectPhase('unmasking', 'finishing');
    const round = this.plan.round;
    const survivors = [...this.maskedFrom].sort();
    const dropped = [...this.dealt.keys()].filter((u) => !this.maskedFrom.has(u)).sort();
    const removals: { seed: Uint8Array; sign: 1 | -1 }[] = [];
    for (const u of survivors) {
      const b = await this.rebuild(u, 'self-mask');
      if (!timingSafeEqual(selfMaskCommitment(round, u, b), (this.dealt.get(u) as Dealt).commitment)) {
        secAggFail('tampered-share', `the self-mask seed of ${u} rebuilt from checked shares does not match its commitment: ${u} dealt inconsistent shares`);
      }
      removals.push({ seed: b, sign: -1 });
    }
    for (const d of dropped) {
      const survivingNeighbours = this.plan.neighbours(d).filter((v) => this.maskedFrom.has(v));
      if (survivingNeighbours.length === 0) continue;
      const key = x25519FromSecret(await this.rebuild(d, 'mask-key'));
      if (!sameBytes(key.publicKey, (this.keys.get(d) as ClientKeys).maskPublicKey)) secAggFail('tampered-share', `the mask key of ${d} rebuilt from checked shares does not match the public key it advertised: ${d} dealt inconsistent shares`);
      for (const v of survivingNeighbours) {
        const seed = pairMaskSeed(round, agree(key.privateKey, (this.keys.get(v) as ClientKeys).maskPublicKey, v), d, v);
        // v added +PRG(s_vd) if d > v, else -PRG(s_vd): take off what v put on.
        removals.push({ seed, sign: d > v ? -1 : 1 });
      }
    }
    const sum = Uint32Array.from(this.maskedSum);
    for (const r of removals) addMask(sum, r.seed, r.sign);
    this.result = { sum, survivors, dropped, rejectedShares: [...this.rejected] };
    this.maskedSum = new Uint32Array(0);
    this.phase = 'finished';
    return this.result;
  }

  private async rebuild(of: string, kind: ShareKind): Promise<Uint8Array> {
    const shares = [...((kind === 'self-mask' ? this.selfMaskShares : this.maskKeyShares).get(of)?.values() ?? [])];
    if (shares.length < this.plan.threshold) {
      secAggFail('too-few-shares', `only ${shares.length} good ${kind} shares of ${of} came back, the threshold is ${this.plan.threshold}: wait for more unmasking responses or give the round up`);
    }
    return combineShares(shares.slice(0, this.plan.threshold));
  }

  private requireClients(count: number, what: string): void {
    if (count < this.plan.threshold) {
      this.phase = 'failed';
      secAggFail('too-few-clients', `round ${this.plan.round}: only ${count} clients ${what}, below the threshold ${this.plan.threshold}; the round stops without a sum`);
    }
  }

  private expectPhase(phase: Phase, what: string): void {
    if (this.phase !== phase) secAggFail('wrong-phase', `round ${this.plan.round}: ${what} is taken at step "${phase}", the round is at "${this.phase}"`);
  }

  private expectMember(round: string, client: string, what: string): void {
    if (round !== this.plan.round) secAggFail('wrong-round', `${what} from ${client} is for round ${round}, this is round ${this.plan.round}`);
    if (!this.plan.has(client)) secAggFail('unknown-client', `${what} from ${client}, which is not in round ${this.plan.round}`);
  }
}

/** A fixed key for probing advertised keys (its secrecy does not matter: the result is only tested for failure). */
const PROBE = x25519FromSecret(new Uint8Array(32).fill(9));

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.byteLength === b.byteLength && Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(b);
}
