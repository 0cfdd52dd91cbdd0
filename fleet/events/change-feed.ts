/**
 * What changed in this fleet process, as news without content: the live stream (`GET /v1/live`)
 * reads the current state from the database when it sends, so a change is only a key.
 *
 * - `gateway`: a gateway's summary changed (state, health, releases, last seen, provisioned, revoked).
 * - `event`: an alert or event (kinds `alert` and `event`; summaries are not news) was committed.
 * - `learning`: a federated task changed (created, stopped, finished: `round` null) or one of its
 *   rounds opened or closed.
 *
 * Rollout decisions are not published here: the live stream reads them from the database by
 * their seq, as `/v1/rollout-events/stream` does, so it also sees the decisions of the instance
 * that leads the rollouts when that is another one.
 */
export type FleetChange =
  | { readonly kind: 'gateway'; readonly id: string }
  | { readonly kind: 'event'; readonly gatewayId: string; readonly recordId: string }
  | { readonly kind: 'learning'; readonly taskId: string; readonly round: number | null };

export type ChangeListener = (change: FleetChange) => void;

/** Listeners at most: the feed has a few consumers (the live stream), never one per client. */
export const MAX_CHANGE_LISTENERS = 8;

/**
 * An in-process fan-out of changes, published after the change is committed. It holds no
 * queue: each listener is called at once, must only note the change (bounded, and never
 * throw), and does any work later. With no listener a publish costs a size check, so the
 * stores publish whether or not anybody watches.
 */
export class ChangeFeed {
  private readonly listeners = new Set<ChangeListener>();

  /** Starts calling `listener` with each change; returns the unsubscribe. */
  subscribe(listener: ChangeListener): () => void {
    if (this.listeners.size >= MAX_CHANGE_LISTENERS) throw new Error(`ChangeFeed: ${MAX_CHANGE_LISTENERS} listeners already; a consumer must fan out to its own clients`);
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  publish(change: FleetChange): void {
    for (const l of this.listeners) {
      try {
        l(change);
      } catch {
        // A listener's failure is its own: the store that published has committed already.
      }
    }
  }

  gateway(id: string): void {
    if (this.listeners.size > 0) this.publish({ kind: 'gateway', id });
  }

  event(gatewayId: string, recordId: string): void {
    if (this.listeners.size > 0) this.publish({ kind: 'event', gatewayId, recordId });
  }

  learning(taskId: string, round: number | null): void {
    if (this.listeners.size > 0) this.publish({ kind: 'learning', taskId, round });
  }
}
