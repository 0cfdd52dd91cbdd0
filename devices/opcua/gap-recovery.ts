import { setTimeout as sleep } from 'node:timers/promises';
import { RepublishRequest, type ClientSession, type NotificationMessage } from 'node-opcua-client';
import type { SourceEvent } from './counters.js';
import type { SubState } from './subscription.js';

/** The Republish service: the session implementation has it, node-opcua's ClientSession interface does not declare it. */
interface Republishing {
  republish(request: RepublishRequest, callback: (err: Error | null, response?: { notificationMessage?: NotificationMessage }) => void): void;
}

export interface GapRecoveryDeps {
  /** The session now (a repair may have replaced it). */
  readonly session: () => ClientSession | undefined;
  readonly signal: AbortSignal;
  /** A missing notification the server gave again: processed as if it had arrived. */
  readonly recovered: (s: SubState, message: NotificationMessage) => void;
  readonly event: SourceEvent;
}

/**
 * Asks the server again for each notification a gap left out. node-opcua republishes after a
 * reconnect only until the first message it already has, so a fresh Publish response that
 * overtook the replay leaves a hole; the server keeps unacknowledged messages for this
 * (Part 4 §5.13.6). A number the server no longer has is given up as lost.
 */
export class GapRecovery {
  constructor(private readonly deps: GapRecoveryDeps) {}

  /** Fills `s`'s gaps after one publishing interval, for node-opcua's own replay to land first; once at a time per subscription. */
  schedule(s: SubState): void {
    if (s.filling) return;
    s.filling = true;
    const wait = s.config.publishingIntervalMs ?? 1000;
    void sleep(wait, undefined, { signal: this.deps.signal })
      .then(() => this.fill(s), () => undefined)
      .catch((err: unknown) => this.deps.event('warn', 'opcua.republish_failed', { code: 'E_OPCUA_REPUBLISH', subscription: s.config.name, reason: (err as Error).message }))
      .finally(() => {
        s.filling = false;
      });
  }

  private async fill(s: SubState): Promise<void> {
    const session = this.deps.session();
    const subscriptionId = s.sub?.subscriptionId;
    if (session === undefined || subscriptionId === undefined) return;
    for (const seq of s.tracker.gapList()) {
      if (this.deps.signal.aborted || s.tracker.subscriptionId !== subscriptionId) return;
      if (!s.tracker.isMissing(seq)) continue;
      const response = await new Promise<{ notificationMessage?: NotificationMessage } | undefined>((resolve) => {
        (session as unknown as Republishing).republish(new RepublishRequest({ subscriptionId, retransmitSequenceNumber: seq }), (err, r) => resolve(err === null ? r : undefined));
      });
      const message = response?.notificationMessage;
      if (message !== undefined && message.sequenceNumber === seq) {
        this.deps.recovered(s, message);
        (session as unknown as { getPublishEngine?: () => { acknowledge_notification(id: number, seq: number): void } }).getPublishEngine?.().acknowledge_notification(subscriptionId, seq);
      } else {
        // The server no longer has it: lost, reason republish-unavailable.
        s.tracker.giveUp(seq);
        this.deps.event('warn', 'opcua.notification_lost', { code: 'E_OPCUA_CHANGES_LOST', subscription: s.config.name, sequenceNumber: seq, reason: 'republish-unavailable: the server no longer had this notification' });
      }
    }
  }
}
