/**
 * What the live stream tells the pages: alerts and events, rollout decisions, learning
 * changes, and `refetch` (a `resync` from the fleet, or the stream reopened after a gap:
 * whatever the page shows may be stale). Gateway batches go to the GatewayIndex instead.
 */
import type { FleetEvent, RolloutEvent } from '../api/types.js';

export interface LiveTopics {
  event: FleetEvent;
  rollout: RolloutEvent;
  learning: { readonly taskId: string; readonly round: number | null };
  refetch: { readonly reason: string };
}
export type LiveTopic = keyof LiveTopics;

type Listener<K extends LiveTopic> = (data: LiveTopics[K]) => void;

export class LiveBus {
  private readonly listeners: { [K in LiveTopic]: Set<Listener<K>> } = { event: new Set(), rollout: new Set(), learning: new Set(), refetch: new Set() };

  on<K extends LiveTopic>(topic: K, listener: Listener<K>): () => void {
    const set = this.listeners[topic] as Set<Listener<K>>;
    set.add(listener);
    return () => set.delete(listener);
  }

  emit<K extends LiveTopic>(topic: K, data: LiveTopics[K]): void {
    for (const l of [...(this.listeners[topic] as Set<Listener<K>>)]) l(data);
  }
}
