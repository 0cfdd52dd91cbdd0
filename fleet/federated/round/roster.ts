/**
 * Who was drawn into a round and who has answered it. A gateway answers a round once: its first
 * complete update for the round is its answer, whatever the verdict on its content, and anything
 * after that is a duplicate (a second update, or QoS 1 redelivering the first). One attempt per
 * round keeps the privacy contract (at most one contribution per gateway and round), gives a
 * misbehaving gateway no way to probe the checks, and makes "every drawn gateway answered"
 * (the early close) well defined.
 */
export class Roster {
  private readonly answeredSet = new Set<string>();

  constructor(
    readonly round: number,
    readonly sampled: ReadonlySet<string>,
  ) {}

  has(gateway: string): boolean {
    return this.sampled.has(gateway);
  }

  hasAnswered(gateway: string): boolean {
    return this.answeredSet.has(gateway);
  }

  /** Records the gateway's answer; only drawn gateways answer, so the set stays within the sample. */
  markAnswered(gateway: string): void {
    if (this.sampled.has(gateway)) this.answeredSet.add(gateway);
  }

  get answered(): number {
    return this.answeredSet.size;
  }

  get waiting(): number {
    return this.sampled.size - this.answeredSet.size;
  }
}
