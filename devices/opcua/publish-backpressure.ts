import type { ClientSession } from 'node-opcua-client';
import type { OpcuaCounters } from './counters.js';

/**
 * The samples received and not yet on the first edge, bounded. The source cannot stop a server
 * from publishing, but it can stop asking: past `max` pending samples it suspends node-opcua's
 * Publish requests and the server holds the changes (its queues are the protocol's
 * backpressure); below half of `max` it asks again.
 */
export class PublishBackpressure {
  pending = 0;
  suspended = false;

  constructor(
    readonly max: number,
    private readonly c: Pick<OpcuaCounters, 'publishSuspensions'>,
  ) {}

  /** Suspends or resumes `session`'s Publish requests after `pending` changed. */
  apply(session: ClientSession | undefined): void {
    const engine = (session as unknown as { getPublishEngine?: () => { suspend(s: boolean): void } } | undefined)?.getPublishEngine?.();
    if (engine === undefined) return;
    if (!this.suspended && this.pending >= this.max) {
      this.suspended = true;
      this.c.publishSuspensions += 1;
      engine.suspend(true);
    } else if (this.suspended && this.pending < this.max / 2) {
      this.suspended = false;
      engine.suspend(false);
    }
  }
}
