import type { Source } from '../../pipeline/components.js';

/** How often the sources are asked whether they answer: a dead PLC shows as DDEATH within about this. */
export const DEVICE_LIVENESS_INTERVAL_MS = 1000;

/** The part of the edge node the watch drives. */
export interface DeviceOnlineTarget {
  setDeviceOnline(sourceId: string, online: boolean): void;
}

/** A Sparkplug device's source as the gateway built it (two pipelines may read one device id). */
export interface WatchedSource {
  /** The Sparkplug source id (`sparkplug.sources[].id`). */
  readonly id: string;
  readonly source: Source;
  /** The part of the source the device is (a Modbus slave's name), or undefined: all of it. */
  readonly scope?: string | undefined;
}

/**
 * Asks every source that has `answering()` whether it can read its device, and tells the edge
 * node (DDEATH when a device stops answering, DBIRTH when it answers again). A device id read by
 * several pipelines answers if any of its sources does; a source without `answering` is left
 * alone. The node ignores a state it already has, so each check repeats the sources' view rather
 * than only its changes: a record a dead device emitted before it died (a backlog after a broker
 * outage) brings it back with a DBIRTH, and the next check declares it dead again.
 */
export class DeviceLiveness {
  private timer: NodeJS.Timeout | undefined;
  /** Sources whose `answering()` threw at the last check: told once, not every second. */
  private readonly throwing = new Set<WatchedSource>();

  constructor(
    private readonly sources: readonly WatchedSource[],
    private readonly node: DeviceOnlineTarget,
    private readonly intervalMs = DEVICE_LIVENESS_INTERVAL_MS,
    /** A source's `answering()` threw (a plug-in's bug): its device keeps the state it had. */
    private readonly onError: (sourceId: string, err: Error) => void = () => {},
  ) {}

  /** Checks at once, then on a timer. Call it once the sources have started: a source not started does not answer. */
  start(): void {
    this.check();
    this.timer ??= setInterval(() => this.check(), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  check(): void {
    const answering = new Map<string, boolean>();
    for (const w of this.sources) {
      if (w.source.answering === undefined) continue;
      let now: boolean;
      try {
        now = w.scope === undefined ? w.source.answering() : w.source.answering(w.scope);
        this.throwing.delete(w);
      } catch (err) {
        if (!this.throwing.has(w)) this.onError(w.id, err instanceof Error ? err : new Error(String(err)));
        this.throwing.add(w);
        continue;
      }
      answering.set(w.id, answering.get(w.id) === true || now);
    }
    for (const [id, online] of answering) this.node.setDeviceOnline(id, online);
  }
}
