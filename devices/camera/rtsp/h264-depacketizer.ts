/**
 * RTP payloads of one H.264 stream (RFC 6184, packetization modes 0 and 1) back into
 * pictures: single NAL unit packets (types 1-23), STAP-A (24: several small NAL units, each
 * behind a 16-bit size) and FU-A (28: one large NAL unit cut into fragments, the first with
 * S, the last with E set). A picture (access unit) is every NAL unit of one RTP timestamp;
 * it ends at the marker bit (5.1: the last packet of an access unit) or, for senders that
 * do not set it, when the timestamp changes.
 *
 * Loss: a picture that lost a packet cannot be repaired, and the pictures after it
 * reference it, so after any loss (or a malformed packet, or a picture over the size bound)
 * pictures are dropped until the next IDR picture, which references nothing before it. A
 * picture is never handed on incomplete. The same holds at the start: the first picture
 * handed on is an IDR picture, and a picture whose first slice does not begin at
 * macroblock 0 (a session that started mid-picture) is dropped as damaged.
 *
 * Parameter sets: a camera may send its SPS and PPS only in the SDP (`sprop-parameter-sets`),
 * only once, or in packets of their own with a timestamp of their own. Every IDR picture
 * handed on carries an SPS and a PPS: the latest seen (in band, else from the SDP) are put
 * in front of an IDR picture that has none. Parameter sets and SEI that arrive as a
 * "picture" without a slice are carried into the next picture.
 *
 * Bounded: a picture (with what is carried into it) may be `maxUnitBytes`; a larger one is
 * dropped and counted, and its packets are not kept while the rest of it arrives.
 */

export interface DepacketizedUnit {
  /** The picture's NAL units, header byte first, without start codes. */
  readonly nals: readonly Uint8Array[];
  /** RTP timestamp (90 kHz). */
  readonly timestamp: number;
  /** Contains an IDR slice: decoding can start here. */
  readonly key: boolean;
}

export interface DepacketizerCounters {
  /** Pictures handed on. */
  units: number;
  /** Pictures dropped because a packet of theirs was lost or malformed. */
  damaged: number;
  /** Complete pictures dropped while waiting for an IDR picture (at the start, after a loss). */
  skippedToKey: number;
  /** Pictures dropped for exceeding `maxUnitBytes`. */
  oversize: number;
  /** Packets with NAL unit types 0, 30 or 31, which RFC 6184 leaves undefined: ignored. */
  packetsIgnored: number;
  /** IDR pictures that were given the SPS/PPS they lacked. */
  parameterSetsInserted: number;
}

export interface DepacketizerOptions {
  /** Largest picture kept, bytes (NAL units plus 4 bytes each for a start code). Default 4 MiB, as the Annex B parser. */
  readonly maxUnitBytes?: number;
  /** Parameter sets from the SDP. */
  readonly sps?: Uint8Array | undefined;
  readonly pps?: readonly Uint8Array[];
}

export interface RtpH264Payload {
  readonly payload: Uint8Array;
  readonly marker: boolean;
  readonly timestamp: number;
}

const NAL_IDR = 5;
const NAL_SPS = 7;
const NAL_PPS = 8;
const STAP_A = 24;
const FU_A = 28;

const nalType = (nal: Uint8Array): number => nal[0]! & 0x1f;
const isSlice = (nal: Uint8Array): boolean => nalType(nal) >= 1 && nalType(nal) <= 5;

export class H264Depacketizer {
  readonly counters: DepacketizerCounters = { units: 0, damaged: 0, skippedToKey: 0, oversize: 0, packetsIgnored: 0, parameterSetsInserted: 0 };
  private readonly maxUnitBytes: number;
  private sps: Uint8Array | undefined;
  private pps: readonly Uint8Array[];
  /** The timestamp of the picture being assembled; undefined between pictures. */
  private timestamp: number | undefined;
  private nals: Uint8Array[] = [];
  private bytes = 0;
  private damaged = false;
  private oversize = false;
  private fu: { header: number; parts: Uint8Array[] } | undefined;
  /** Parameter sets and SEI of a slice-less "picture", waiting for the next picture. */
  private carried: Uint8Array[] = [];
  private carriedBytes = 0;
  private waitKey = true;

  constructor(options: DepacketizerOptions = {}) {
    this.maxUnitBytes = options.maxUnitBytes ?? 4 * 1024 * 1024;
    this.sps = options.sps;
    this.pps = options.pps ?? [];
  }

  /**
   * Takes the next packet of the stream. `discontinuity`: packets were lost just before
   * this one (or the stream restarted), so the picture in progress and the one this packet
   * belongs to are incomplete. Returns the pictures this packet completed (0, 1 or 2).
   */
  push(packet: RtpH264Payload, discontinuity = false): DepacketizedUnit[] {
    const out: DepacketizedUnit[] = [];
    if (discontinuity) {
      if (this.timestamp !== undefined) {
        this.markDamaged();
        this.finish(out);
      }
      this.damaged = true;
      this.waitKey = true;
    } else if (this.timestamp !== undefined && packet.timestamp !== this.timestamp) {
      this.finish(out);
    }
    this.timestamp = packet.timestamp;
    if (!this.damaged && !this.oversize) this.take(packet.payload);
    if (packet.marker) this.finish(out);
    return out;
  }

  /** Parameter sets from a new session's SDP: they replace those learned before (a camera may change them between sessions). */
  useParameterSets(sps: Uint8Array | undefined, pps: readonly Uint8Array[]): void {
    if (sps !== undefined) this.sps = sps;
    if (pps.length > 0) this.pps = pps;
  }

  /** The stream broke off (a lost connection): whatever is pending is dropped, and the next picture handed on will be an IDR picture. */
  reset(): void {
    this.clearUnit();
    this.carried = [];
    this.carriedBytes = 0;
    this.waitKey = true;
  }

  private take(payload: Uint8Array): void {
    if (payload.length === 0) return this.markDamaged();
    const type = payload[0]! & 0x1f;
    if (this.fu !== undefined && type !== FU_A) return this.markDamaged(); // a fragmented unit without its end
    if ((payload[0]! & 0x80) !== 0) return this.markDamaged(); // forbidden_zero_bit: the sender flags a damaged unit
    if (type >= 1 && type <= 23) return this.addNal(payload);
    if (type === STAP_A) return this.takeStapA(payload);
    if (type === FU_A) return this.takeFuA(payload);
    if (type === 0 || type >= 30) {
      this.counters.packetsIgnored += 1;
      return;
    }
    // STAP-B, MTAP16, MTAP24, FU-B: interleaved mode only, which the SDP check refused.
    this.markDamaged();
  }

  private takeStapA(payload: Uint8Array): void {
    let i = 1;
    while (i < payload.length) {
      if (i + 2 > payload.length) return this.markDamaged();
      const size = (payload[i]! << 8) | payload[i + 1]!;
      i += 2;
      if (size === 0 || i + size > payload.length) return this.markDamaged();
      this.addNal(payload.subarray(i, i + size));
      if (this.damaged || this.oversize) return;
      i += size;
    }
  }

  private takeFuA(payload: Uint8Array): void {
    if (payload.length < 2) return this.markDamaged();
    const indicator = payload[0]!;
    const fuHeader = payload[1]!;
    const start = (fuHeader & 0x80) !== 0;
    const end = (fuHeader & 0x40) !== 0;
    // The NAL unit header is rebuilt from the indicator's F and NRI bits and the FU header's type.
    const header = (indicator & 0xe0) | (fuHeader & 0x1f);
    if (start) {
      if (this.fu !== undefined) return this.markDamaged();
      this.fu = { header, parts: [Uint8Array.of(header)] };
      this.bytes += 5; // the header byte and a start code
    } else if (this.fu === undefined || (this.fu.header & 0x1f) !== (header & 0x1f)) {
      return this.markDamaged(); // a middle or last fragment whose start was lost
    }
    const part = payload.subarray(2);
    this.fu.parts.push(part);
    this.bytes += part.length;
    if (this.overLimit()) return;
    if (end) {
      const nal = concat(this.fu.parts);
      this.fu = undefined;
      this.bytes -= nal.length + 4;
      this.addNal(nal);
    }
  }

  private addNal(nal: Uint8Array): void {
    const type = nal[0]! & 0x1f;
    if ((nal[0]! & 0x80) !== 0 || type === 0 || type >= 24) return this.markDamaged();
    this.nals.push(nal);
    this.bytes += nal.length + 4;
    this.overLimit();
  }

  private overLimit(): boolean {
    if (this.bytes + this.carriedBytes <= this.maxUnitBytes) return false;
    this.oversize = true;
    this.counters.oversize += 1;
    // Nothing of this picture is kept while the rest of it arrives.
    this.nals = [];
    this.fu = undefined;
    this.bytes = 0;
    return true;
  }

  private markDamaged(): void {
    this.damaged = true;
    this.nals = [];
    this.fu = undefined;
    this.bytes = 0;
  }

  private finish(out: DepacketizedUnit[]): void {
    const timestamp = this.timestamp ?? 0;
    if (this.fu !== undefined) this.markDamaged(); // the last fragment never came
    const { damaged, oversize } = this;
    const nals = this.nals;
    this.clearUnit();
    if (damaged || oversize) {
      if (damaged) this.counters.damaged += 1;
      this.carried = [];
      this.carriedBytes = 0;
      this.waitKey = true;
      return;
    }
    if (nals.length === 0) return;
    this.learnParameterSets(nals);
    const firstSlice = nals.find(isSlice);
    if (firstSlice === undefined) {
      this.carried.push(...nals);
      this.carriedBytes += nals.reduce((n, nal) => n + nal.length + 4, 0);
      return;
    }
    if (firstSlice.length < 2 || (firstSlice[1]! & 0x80) === 0) {
      // The first slice does not start at macroblock 0 (first_mb_in_slice, ue(v), is 0 exactly
      // when its first bit is 1): the picture's leading slices are missing. This is how a
      // session that began mid-picture shows, where no sequence gap can.
      this.counters.damaged += 1;
      this.carried = [];
      this.carriedBytes = 0;
      this.waitKey = true;
      return;
    }
    let unit: readonly Uint8Array[] = this.carried.length === 0 ? nals : [...this.carried, ...nals];
    this.carried = [];
    this.carriedBytes = 0;
    const key = unit.some((nal) => nalType(nal) === NAL_IDR);
    if (this.waitKey && !key) {
      this.counters.skippedToKey += 1;
      return;
    }
    if (key) {
      this.waitKey = false;
      unit = this.withParameterSets(unit);
    }
    this.counters.units += 1;
    out.push({ nals: unit, timestamp, key });
  }

  private learnParameterSets(nals: readonly Uint8Array[]): void {
    const pps: Uint8Array[] = [];
    for (const nal of nals) {
      if (nalType(nal) === NAL_SPS) this.sps = nal;
      else if (nalType(nal) === NAL_PPS) pps.push(nal);
    }
    if (pps.length > 0) this.pps = pps;
  }

  /** An IDR picture with an SPS and a PPS in front: its own where it has them, else the latest known. */
  private withParameterSets(nals: readonly Uint8Array[]): readonly Uint8Array[] {
    const ownSps = nals.filter((n) => nalType(n) === NAL_SPS);
    const ownPps = nals.filter((n) => nalType(n) === NAL_PPS);
    if (ownSps.length > 0 && ownPps.length > 0) return nals;
    const sps = ownSps.length > 0 ? ownSps : this.sps === undefined ? [] : [this.sps];
    const pps = ownPps.length > 0 ? ownPps : this.pps;
    // Nothing known to add: hand it on as it is (the decoder waits for an SPS).
    if (sps.length === ownSps.length && pps.length === ownPps.length) return nals;
    this.counters.parameterSetsInserted += 1;
    return [...sps, ...pps, ...nals.filter((n) => nalType(n) !== NAL_SPS && nalType(n) !== NAL_PPS)];
  }

  private clearUnit(): void {
    this.timestamp = undefined;
    this.nals = [];
    this.bytes = 0;
    this.damaged = false;
    this.oversize = false;
    this.fu = undefined;
  }
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}
