import type { FleetSecAggMessage } from '../../fleet/protocol/federated/secagg-message.js';

type Step = FleetSecAggMessage['step'];
type Of<S extends Step> = Extract<FleetSecAggMessage, { step: S }>;

/**
 * What the fleet relayed for one secure round (task, round), by step: one message per step at
 * most (the protocol sends each once; a QoS 1 redelivery of one is dropped, and so is a second,
 * different one: the first is the fleet's word), so it holds four messages at most. A step's
 * waiter is woken when its message comes, or rejected when the round's signal aborts.
 */
export class SecAggInbox {
  private readonly messages = new Map<Step, FleetSecAggMessage>();
  private readonly waiters = new Map<Step, () => void>();

  constructor(
    readonly task: string,
    readonly round: number,
  ) {}

  /** Keeps `m` when it is for this round and its step is not held yet; false otherwise. */
  push(m: FleetSecAggMessage): boolean {
    if (m.task !== this.task || m.round !== this.round || this.messages.has(m.step)) return false;
    this.messages.set(m.step, m);
    this.waiters.get(m.step)?.();
    return true;
  }

  /** The message of `step`, now or when it comes; rejects with the signal's reason when it aborts first. */
  next<S extends Step>(step: S, signal: AbortSignal): Promise<Of<S>> {
    const held = (): Of<S> | undefined => this.messages.get(step) as Of<S> | undefined;
    const now = held();
    if (now !== undefined) return Promise.resolve(now);
    if (signal.aborted) return Promise.reject(signal.reason as Error);
    return new Promise<Of<S>>((resolve, reject) => {
      const onAbort = (): void => {
        this.waiters.delete(step);
        reject(signal.reason as Error);
      };
      this.waiters.set(step, () => {
        this.waiters.delete(step);
        signal.removeEventListener('abort', onAbort);
        resolve(held() as Of<S>);
      });
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }
}
