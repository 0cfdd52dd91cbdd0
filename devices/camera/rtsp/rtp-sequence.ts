/**
 * Counts lost RTP packets from sequence numbers (16 bits, wrapping), after RFC 3550 A.1.
 *
 * - The next expected number: in order, nothing lost.
 * - Ahead by d (up to half the number space): d packets lost. Over TCP nothing is
 *   reordered, so a jump ahead is a loss (the camera dropped packets for a slow client, or
 *   a relay did), never a packet that will still come.
 * - Behind by up to `MAX_MISORDER`: a duplicate or a late packet; dropped, not counted lost.
 * - Further behind: the sender restarted its numbering (RFC 3550's "very late" case). One
 *   such packet is dropped; if the next one follows it, the count resynchronises there
 *   without counting a loss.
 * - A new SSRC is a new stream: the count starts over (the caller treats it as a break).
 */

export type SequenceVerdict =
  /** In order (lost = 0) or after a gap (lost > 0): use the packet. */
  | { readonly kind: 'next'; readonly lost: number }
  /** A duplicate, a late packet, or a first packet of a possible restart: drop it. */
  | { readonly kind: 'drop' }
  /** The stream restarted (new SSRC, or new numbering confirmed): use the packet; what was pending is broken. */
  | { readonly kind: 'restart' };

const MAX_MISORDER = 100;

export class RtpSequence {
  private expected: number | undefined;
  private ssrc: number | undefined;
  /** A packet far behind, whose successor would confirm a restart of the numbering. */
  private probation: number | undefined;
  /** Packets lost in total (sum of the gaps). */
  lost = 0;
  /** Duplicates and late packets dropped. */
  dropped = 0;

  next(sequence: number, ssrc: number): SequenceVerdict {
    if (this.expected === undefined || ssrc !== this.ssrc) {
      const restart = this.expected !== undefined;
      this.ssrc = ssrc;
      this.expected = (sequence + 1) & 0xffff;
      this.probation = undefined;
      return restart ? { kind: 'restart' } : { kind: 'next', lost: 0 };
    }
    const ahead = (sequence - this.expected) & 0xffff;
    if (ahead < 0x8000) {
      this.expected = (sequence + 1) & 0xffff;
      this.probation = undefined;
      this.lost += ahead;
      return { kind: 'next', lost: ahead };
    }
    if (0x10000 - ahead <= MAX_MISORDER) {
      this.dropped += 1;
      return { kind: 'drop' };
    }
    if (this.probation === sequence) {
      this.expected = (sequence + 1) & 0xffff;
      this.probation = undefined;
      return { kind: 'restart' };
    }
    this.probation = (sequence + 1) & 0xffff;
    this.dropped += 1;
    return { kind: 'drop' };
  }
}
