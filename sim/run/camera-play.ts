import { setTimeout as sleep } from 'node:timers/promises';
import type { EventStore, StoredEvent } from '../../fleet/events/event-store.js';
import { decodeRecordMessage } from '../../fleet/ingest/record-message.js';
import { gatewayTopics } from '../../fleet/protocol/index.js';
import type { GatewayGroup } from '../scenario/types.js';
import { defectsFromEvents, type DefectivePart, type DefectObservation } from '../score/index.js';
import { CameraFeed } from './camera-feed.js';
import type { CutFrame } from './camera-truth.js';
import { CAMERA_DEVICE_ID, cameraYaml, trackMaxAgeMs } from './camera-yaml.js';
import type { Subscribe } from './delivery-tap.js';

const EVENTS_STREAM = `${CAMERA_DEVICE_ID}.events`;
const DETECTIONS_STREAM = `${CAMERA_DEVICE_ID}.detections`;
/** Defect events remembered at the broker, at most (one per defective part: hours of belt). */
const MAX_DEFECTS_SEEN = 100_000;
/** Events read back from the fleet per page, and pages at most. */
const PAGE = 1000;
const MAX_PAGES = 200;

export interface SettleResult {
  readonly cut: CutFrame | null;
  /** Why the window may be short of events (the stage did not get that far in time), or null. */
  readonly problem: string | null;
}

/**
 * A camera gateway's conveyor, as the runner plays and scores it:
 * - `start`: the camera feed (sim/camera's scene, H.264, live on TCP) before the gateway, so
 *   its config can name the address (`yaml`), and a watch at the broker on the gateway's records;
 * - `play` at the run's start: the belt moves;
 * - `settle` at the run's end: picks the frame the scored window ends at (no part half out
 *   of view in it, at or before the end), and keeps the belt moving until the vision stage
 *   has seen frames a track's `maxAgeMs` past it, so every part that left by then has had its
 *   track ended and its `defect` event sent;
 * - `truth`: the defective parts that left the view in the window; `observations`: the
 *   `defect` events the fleet stored whose last sighting is in it.
 */
export class SimCamera {
  private maxDetectionsTs = 0;
  /** Defect events passed on by the broker: record id -> last sighting. */
  private readonly defectsAtBroker = new Map<string, number>();
  private cut: CutFrame | null = null;
  private unsubscribe: (() => Promise<void>) | undefined;

  private constructor(
    readonly gatewayId: string,
    readonly feed: CameraFeed,
    private readonly fps: number,
  ) {}

  static async start(gatewayId: string, camera: NonNullable<GatewayGroup['camera']>, seed: number, subscribe: Subscribe): Promise<SimCamera> {
    const feed = await CameraFeed.start({ name: gatewayId, fps: camera.fps, width: camera.width, height: camera.height, defectShare: camera.defectShare, seed });
    const cam = new SimCamera(gatewayId, feed, camera.fps);
    try {
      cam.unsubscribe = await subscribe(gatewayTopics.records(gatewayId), (topic, payload) => cam.onRecords(topic, payload));
    } catch (err) {
      await feed.stop();
      throw err;
    }
    return cam;
  }

  /** The gateway config's lines for this camera. */
  yaml(): { devices: string[]; pipelines: string[] } {
    return cameraYaml(this.feed.address, this.fps);
  }

  play(): void {
    this.feed.play();
  }

  /** The frame time the vision stage has reached, as its last `detections` record says (ms, 0: none yet). */
  get stageReachedMs(): number {
    return this.maxDetectionsTs;
  }

  /**
   * Ends the scored window at the last frame at or before `runEndMs` with no part half out of
   * view, and waits (at most `timeoutMs`) until the stage's frames are a track's `maxAgeMs`
   * and a frame past it. The belt keeps moving meanwhile, and after.
   */
  async settle(runEndMs: number, timeoutMs: number): Promise<SettleResult> {
    const cut = this.feed.exits.cutAt(runEndMs);
    this.cut = cut;
    if (cut === null) return { cut, problem: `camera of ${this.gatewayId}: no frame was shown by the run's end${this.feed.error === undefined ? '' : ` (${this.feed.error.message})`}` };
    const needMs = cut.atMs + trackMaxAgeMs(this.fps) + this.feed.frameMs;
    const deadline = Date.now() + timeoutMs;
    while (this.maxDetectionsTs < needMs) {
      if (Date.now() >= deadline) {
        const reached = this.maxDetectionsTs === 0 ? 'no frame' : `${((this.maxDetectionsTs - cut.atMs) / 1000).toFixed(1)} s from the window's end`;
        return { cut, problem: `camera of ${this.gatewayId}: the vision stage reached ${reached} after ${timeoutMs / 1000} s, not ${(needMs - cut.atMs) / 1000} s past it; events of parts leaving at the end may be missing` };
      }
      await sleep(50);
    }
    return { cut, problem: null };
  }

  /** The defective parts that left the view in the window (none before `settle`). */
  truth(): DefectivePart[] {
    if (this.cut === null) return [];
    return this.feed.exits.exitsUntil(this.cut.frame).map((e) => ({ gatewayId: this.gatewayId, partId: e.partId, defect: e.defect, leftViewMs: e.atMs }));
  }

  /**
   * The `defect` events the fleet stored for this gateway whose last sighting is in the
   * window (up to half a frame past its last frame: the gateway stamps a frame when it
   * arrives, a little after it was sent). Waits (at most `timeoutMs`) until the fleet holds
   * every one the broker passed on: its ingest writes in batches.
   */
  async observations(events: EventStore, timeoutMs: number): Promise<DefectObservation[]> {
    const cut = this.cut;
    if (cut === null) return [];
    const untilMs = cut.atMs + this.feed.frameMs / 2;
    const expected = [...this.defectsAtBroker.values()].filter((t) => t <= untilMs).length;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const stored = defectsFromEvents(await this.storedEvents(events)).defects.filter((d) => d.lastSeenMs <= untilMs);
      if (stored.length >= expected || Date.now() >= deadline) return stored;
      await sleep(100);
    }
  }

  async stop(): Promise<void> {
    await this.unsubscribe?.().catch(() => undefined);
    this.unsubscribe = undefined;
    await this.feed.stop();
  }

  private async storedEvents(events: EventStore): Promise<StoredEvent[]> {
    const out: StoredEvent[] = [];
    let before: StoredEvent | undefined;
    for (let page = 0; page < MAX_PAGES; page += 1) {
      const items = await events.query({ gatewayId: this.gatewayId, kind: 'event', stream: EVENTS_STREAM, limit: PAGE, ...(before === undefined ? {} : { before: { ts: before.ts, gatewayId: before.gatewayId, recordId: before.recordId } }) });
      out.push(...items);
      if (items.length < PAGE) break;
      before = items[items.length - 1];
    }
    return out;
  }

  private onRecords(topic: string, payload: Buffer): void {
    let records;
    try {
      records = decodeRecordMessage(topic, payload).records;
    } catch {
      return; // the tap counts what cannot be decoded
    }
    for (const r of records) {
      if (r.stream === DETECTIONS_STREAM) this.maxDetectionsTs = Math.max(this.maxDetectionsTs, r.ts);
      else if (r.stream === EVENTS_STREAM && this.defectsAtBroker.size < MAX_DEFECTS_SEEN) {
        const d = r.data as { event?: unknown; lastTs?: unknown } | null;
        if (d !== null && typeof d === 'object' && d.event === 'defect' && typeof d.lastTs === 'number') this.defectsAtBroker.set(r.id, d.lastTs);
      }
    }
  }
}
