/**
 * The primary host application's STATE, as an edge node reads it.
 *
 * Sparkplug 3.0: topic `spBv1.0/STATE/<host id>`, a retained JSON payload
 * `{"online": boolean, "timestamp": <ms>}`; the host's Will carries `online: false` with the
 * timestamp of the online message it registered with, so an edge node compares timestamps:
 * - tck-id-message-flow-edge-node-birth-publish-phid-wait-online / -wait-timestamp: the host is
 *   online only on `online: true`, and a STATE older than the last one seen is ignored;
 * - tck-id-operational-behavior-edge-node-termination-host-offline-timestamp: an offline STATE
 *   with an older timestamp than the last one seen MUST NOT make the edge node disconnect.
 * Sparkplug 2.2 (older Ignition): topic `STATE/<host id>`, payload `ONLINE` or `OFFLINE`, no
 * timestamp (the last message wins).
 */
export type StateFormat = 'v3' | 'v2' | 'auto';

export interface HostState {
  readonly online: boolean;
  /** ms since the epoch; undefined for a 2.2 message. */
  readonly timestamp: number | undefined;
}

export function stateTopics(hostId: string, format: StateFormat): string[] {
  const v3 = `spBv1.0/STATE/${hostId}`;
  const v2 = `STATE/${hostId}`;
  return format === 'v3' ? [v3] : format === 'v2' ? [v2] : [v3, v2];
}

/** Parses a STATE payload of the topic's version; throws with what was wrong (outside input). */
export function parseHostState(topic: string, payload: Uint8Array): HostState {
  const text = Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength).toString('utf8');
  if (!topic.startsWith('spBv1.0/')) {
    const word = text.trim();
    if (word === 'ONLINE' || word === 'OFFLINE') return { online: word === 'ONLINE', timestamp: undefined };
    throw new Error(`expected ONLINE or OFFLINE (Sparkplug 2.2 STATE), got ${JSON.stringify(text.slice(0, 40))}`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new Error(`expected a JSON object {"online": boolean, "timestamp": ms} (Sparkplug 3.0 STATE), got ${JSON.stringify(text.slice(0, 40))}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error(`expected a JSON object with online and timestamp, got ${JSON.stringify(text.slice(0, 40))}`);
  const { online, timestamp } = value as { online?: unknown; timestamp?: unknown };
  if (typeof online !== 'boolean') throw new Error(`expected "online" to be true or false, got ${JSON.stringify(online) ?? 'nothing'}`);
  if (typeof timestamp !== 'number' || !Number.isFinite(timestamp) || timestamp < 0) throw new Error(`expected "timestamp" to be ms since 1970, got ${JSON.stringify(timestamp) ?? 'nothing'}`);
  return { online, timestamp };
}

/**
 * The host's state as the edge node believes it: the latest accepted message. A 3.0 message
 * older than the last accepted 3.0 message is stale and ignored; 2.2 messages carry no time and
 * are accepted until a 3.0 message has been seen. Kept across connections (a retained stale
 * offline must not win later).
 */
export class HostStateTracker {
  private lastTimestamp: number | undefined;
  private current: boolean | undefined;
  staleIgnored = 0;

  get online(): boolean {
    return this.current === true;
  }

  get known(): boolean {
    return this.current !== undefined;
  }

  /** Applies a message; returns false when it was stale and ignored. */
  accept(state: HostState): boolean {
    // With stateFormat auto, once the host has spoken 3.0 a 2.2 word is old news: a retained
    // `STATE/<host>` OFFLINE can outlive the client that published it for years.
    if (state.timestamp === undefined && this.lastTimestamp !== undefined) {
      this.staleIgnored += 1;
      return false;
    }
    if (state.timestamp !== undefined) {
      if (this.lastTimestamp !== undefined && state.timestamp < this.lastTimestamp) {
        this.staleIgnored += 1;
        return false;
      }
      this.lastTimestamp = state.timestamp;
    }
    this.current = state.online;
    return true;
  }
}
