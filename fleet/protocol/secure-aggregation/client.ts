import { randomBytes as cryptoRandomBytes } from 'node:crypto';
import { pairMaskSeed, selfMaskCommitment, shareBoxAad, shareBoxKey, shareDigest, type ShareKind } from './derive.js';
import { secAggFail } from './errors.js';
import { checkKeyRoster, checkShareDelivery, checkUnmaskingRequest, type AdvertiseKeys, type ClientKeys, type KeyRoster, type MaskedInput, type RevealedShare, type ShareDelivery, type ShareKeys, type UnmaskingRequest, type UnmaskingResponse } from './messages.js';
import type { RoundPlan } from './params.js';
import { addMask, SEED_BYTES } from './prg.js';
import { openShares, sealShares } from './share-box.js';
import { SHARE_BYTES, splitSecret } from './shamir.js';
import { agree, x25519FromSecret, type X25519KeyPair } from './x25519.js';

/** Where a client's secrets come from: node:crypto's CSPRNG unless a test seeds it. */
export type RandomSource = (bytes: number) => Uint8Array;

export interface SecAggClientOptions {
  readonly randomBytes?: RandomSource;
}

type Phase = 'created' | 'advertised' | 'shared' | 'received' | 'masked';

interface HeldShares {
  readonly maskKey: Uint8Array;
  readonly selfMask: Uint8Array;
}

/**
 * One client's side of a secure round: advertise keys, deal shares, mask the input once, and
 * answer the unmasking request. Each step takes the server's message (checked here: it comes
 * from outside) and returns the client's reply; a step out of order, or a message that does
 * not fit the round, is E_SECAGG and leaves the client's state as it was.
 */
export class SecAggClient {
  private phase: Phase = 'created';
  private readonly random: RandomSource;
  private readonly maskKeys: X25519KeyPair;
  private readonly encryptionKeys: X25519KeyPair;
  private roster = new Map<string, ClientKeys>();
  /** b_u: kept from dealing until the input is masked, then wiped. */
  private selfMaskSeed: Uint8Array | null = null;
  /** Shares this client holds, by dealer (itself included): its own, then those its neighbours in U2 sealed for it. */
  private held = new Map<string, HeldShares>();
  private pairSeeds: { readonly seed: Uint8Array; readonly sign: 1 | -1 }[] = [];
  /** Which kind of share it revealed for each dealer: never both for one (the protocol's privacy rests on it). */
  private readonly revealed = new Map<string, ShareKind>();

  constructor(
    private readonly plan: RoundPlan,
    readonly id: string,
    options: SecAggClientOptions = {},
  ) {
    if (!plan.has(id)) secAggFail('unknown-client', `client ${id} is not in round ${plan.round}`);
    this.random = options.randomBytes ?? ((n) => new Uint8Array(cryptoRandomBytes(n)));
    this.maskKeys = x25519FromSecret(this.random(32));
    this.encryptionKeys = x25519FromSecret(this.random(32));
  }

  /** Round 0: the public keys to send to the server. */
  advertise(): AdvertiseKeys {
    this.expectPhase('created', 'advertise');
    this.phase = 'advertised';
    return { round: this.plan.round, from: this.id, maskPublicKey: this.maskKeys.publicKey, encryptionPublicKey: this.encryptionKeys.publicKey };
  }

  /** Round 1: takes everyone's keys, secret-shares the mask key and a fresh self-mask seed among the holders, seals each holder's pair of shares. */
  async shareKeys(rosterInput: KeyRoster): Promise<ShareKeys> {
    this.expectPhase('advertised', 'take the key roster');
    const roster = checkKeyRoster(rosterInput);
    this.expectRound(roster.round, 'key-roster');
    const byId = new Map<string, ClientKeys>();
    const seenKeys = new Set<string>();
    for (const c of roster.clients) {
      if (!this.plan.has(c.id)) secAggFail('unknown-client', `key-roster lists ${c.id}, which is not in round ${this.plan.round}`);
      if (byId.has(c.id)) secAggFail('duplicate', `key-roster lists ${c.id} twice`);
      for (const k of [c.maskPublicKey, c.encryptionPublicKey]) {
        const hex = Buffer.from(k).toString('hex');
        if (seenKeys.has(hex)) secAggFail('duplicate-key', `key-roster: ${c.id} has a public key another entry also has`);
        seenKeys.add(hex);
      }
      byId.set(c.id, c);
    }
    const own = byId.get(this.id);
    if (own === undefined || !sameBytes(own.maskPublicKey, this.maskKeys.publicKey) || !sameBytes(own.encryptionPublicKey, this.encryptionKeys.publicKey)) {
      secAggFail('inconsistent', `key-roster does not carry the keys ${this.id} advertised`);
    }
    const holders = this.plan.holders(this.id).filter((h) => byId.has(h));
    if (holders.length < this.plan.threshold) secAggFail('too-few-clients', `only ${holders.length} of ${this.id}'s share holders advertised keys, below the threshold ${this.plan.threshold}`);

    const selfMaskSeed = this.random(SEED_BYTES);
    const maskKeyShares = await splitSecret(this.maskKeys.secret, holders.length, this.plan.threshold);
    const selfMaskShares = await splitSecret(selfMaskSeed, holders.length, this.plan.threshold);
    const round = this.plan.round;
    const digests: ShareKeys['digests'][number][] = [];
    const boxes: ShareKeys['boxes'][number][] = [];
    const held = new Map<string, HeldShares>();
    holders.forEach((h, i) => {
      const maskKey = maskKeyShares[i] as Uint8Array;
      const selfMask = selfMaskShares[i] as Uint8Array;
      digests.push({ holder: h, maskKey: shareDigest(round, 'mask-key', this.id, h, maskKey), selfMask: shareDigest(round, 'self-mask', this.id, h, selfMask) });
      if (h === this.id) {
        held.set(h, { maskKey, selfMask });
        return;
      }
      const peer = byId.get(h) as ClientKeys;
      const key = shareBoxKey(round, agree(this.encryptionKeys.privateKey, peer.encryptionPublicKey, h), this.id, h);
      const plaintext = new Uint8Array(2 * SHARE_BYTES);
      plaintext.set(maskKey, 0);
      plaintext.set(selfMask, SHARE_BYTES);
      boxes.push({ to: h, box: sealShares(key, plaintext, shareBoxAad(round, this.id, h), this.random(12)) });
    });
    this.roster = byId;
    this.selfMaskSeed = selfMaskSeed;
    this.held = held;
    this.phase = 'shared';
    return { round, from: this.id, selfMaskCommitment: selfMaskCommitment(round, this.id, selfMaskSeed), digests, boxes };
  }

  /** Round 1's answer: opens the boxes of its neighbours that dealt shares (U2) and agrees a mask seed with each. */
  receiveShares(deliveryInput: ShareDelivery): void {
    this.expectPhase('shared', 'take shares');
    const delivery = checkShareDelivery(deliveryInput);
    this.expectRound(delivery.round, 'share-delivery');
    if (delivery.to !== this.id) secAggFail('inconsistent', `share-delivery is addressed to ${delivery.to}, not ${this.id}`);
    const round = this.plan.round;
    const held = new Map(this.held);
    const pairSeeds: { seed: Uint8Array; sign: 1 | -1 }[] = [];
    for (const { from, box } of delivery.boxes) {
      const peer = this.roster.get(from);
      if (peer === undefined || !this.plan.isNeighbour(this.id, from)) secAggFail('unknown-client', `share-delivery carries a box from ${from}, which is not a neighbour of ${this.id} in the key roster`);
      if (held.has(from)) secAggFail('duplicate', `share-delivery carries two boxes from ${from}`);
      const key = shareBoxKey(round, agree(this.encryptionKeys.privateKey, peer.encryptionPublicKey, from), from, this.id);
      const plaintext = openShares(key, box, shareBoxAad(round, from, this.id), from);
      if (plaintext.byteLength !== 2 * SHARE_BYTES) secAggFail('malformed', `the share box from ${from} holds ${plaintext.byteLength} bytes, not ${2 * SHARE_BYTES}`);
      held.set(from, { maskKey: plaintext.slice(0, SHARE_BYTES), selfMask: plaintext.slice(SHARE_BYTES) });
      const seed = pairMaskSeed(round, agree(this.maskKeys.privateKey, peer.maskPublicKey, from), this.id, from);
      // y_u = x_u + PRG(b_u) + sum over v > u of PRG(s_uv) - sum over v < u: each pair's masks cancel in the sum.
      pairSeeds.push({ seed, sign: from > this.id ? 1 : -1 });
    }
    if (held.size < this.plan.threshold) secAggFail('too-few-clients', `only ${held.size} holders of ${this.id}'s shares (itself included) dealt shares, below the threshold ${this.plan.threshold}`);
    this.held = held;
    this.pairSeeds = pairSeeds;
    this.phase = 'received';
  }

  /**
   * Round 2: y_u = x_u + PRG(b_u) +- PRG(s_uv) for each neighbour v in U2, mod 2^32. Only once
   * per round: two inputs under the same masks would give the server their difference.
   */
  maskInput(x: Uint32Array): MaskedInput {
    this.expectPhase('received', 'mask an input');
    if (!(x instanceof Uint32Array) || x.length !== this.plan.vectorLength) secAggFail('malformed', `the input to mask must be a Uint32Array of ${this.plan.vectorLength} words`);
    const masked = Uint32Array.from(x);
    addMask(masked, this.selfMaskSeed as Uint8Array, 1);
    for (const p of this.pairSeeds) addMask(masked, p.seed, p.sign);
    (this.selfMaskSeed as Uint8Array).fill(0);
    this.selfMaskSeed = null;
    for (const p of this.pairSeeds) p.seed.fill(0);
    this.pairSeeds = [];
    this.phase = 'masked';
    return { round: this.plan.round, from: this.id, masked };
  }

  /**
   * Round 4: for each dealer it holds shares of, the self-mask share if the dealer survived
   * (its b_u must come off the sum) or the mask-key share if it dropped (its pairwise masks
   * must). Refuses a request that would reveal the other kind for a dealer it already answered
   * for, or that is inconsistent with what it knows, revealing nothing then.
   */
  unmask(requestInput: UnmaskingRequest): UnmaskingResponse {
    this.expectPhase('masked', 'reveal shares');
    const request = checkUnmaskingRequest(requestInput);
    this.expectRound(request.round, 'unmasking-request');
    if (request.to !== this.id) secAggFail('inconsistent', `unmasking-request is addressed to ${request.to}, not ${this.id}`);
    const survivors = new Set<string>();
    for (const s of request.survivors) {
      if (!this.plan.has(s)) secAggFail('unknown-client', `unmasking-request names survivor ${s}, which is not in round ${this.plan.round}`);
      if (survivors.has(s)) secAggFail('duplicate', `unmasking-request names survivor ${s} twice`);
      if (this.plan.isNeighbour(this.id, s) && !this.held.has(s)) secAggFail('inconsistent', `unmasking-request names ${s} a survivor, but ${s} never dealt shares to ${this.id}, so it cannot have masked an input`);
      survivors.add(s);
    }
    if (!survivors.has(this.id)) secAggFail('inconsistent', `unmasking-request does not name ${this.id} a survivor although it sent its masked input`);
    if (survivors.size < this.plan.threshold) secAggFail('too-few-clients', `unmasking-request names ${survivors.size} survivors, below the threshold ${this.plan.threshold}: the sum of so few inputs is not revealed`);
    const kinds = new Map<string, ShareKind>();
    for (const dealer of this.held.keys()) {
      const kind: ShareKind = survivors.has(dealer) ? 'self-mask' : 'mask-key';
      const before = this.revealed.get(dealer);
      if (before !== undefined && before !== kind) secAggFail('refused-reveal', `${this.id} refuses to reveal a ${kind} share of ${dealer}: it revealed its ${before} share before, and both together would unmask ${dealer}'s input`);
      kinds.set(dealer, kind);
    }
    const selfMaskShares: RevealedShare[] = [];
    const maskKeyShares: RevealedShare[] = [];
    for (const [dealer, kind] of kinds) {
      this.revealed.set(dealer, kind);
      const shares = this.held.get(dealer) as HeldShares;
      if (kind === 'self-mask') selfMaskShares.push({ of: dealer, share: shares.selfMask });
      else maskKeyShares.push({ of: dealer, share: shares.maskKey });
    }
    return { round: this.plan.round, from: this.id, selfMaskShares, maskKeyShares };
  }

  private expectPhase(phase: Phase, action: string): void {
    if (this.phase !== phase) secAggFail('wrong-phase', `${this.id} cannot ${action} now: it is at step "${this.phase}", this needs "${phase}"`);
  }

  private expectRound(round: string, what: string): void {
    if (round !== this.plan.round) secAggFail('wrong-round', `${what} is for round ${round}, ${this.id} is in round ${this.plan.round}`);
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.byteLength === b.byteLength && Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(b);
}
