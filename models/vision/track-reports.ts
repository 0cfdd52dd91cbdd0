import type { RawFrame } from '../../runtime/pipeline/frame.js';
import type { RecordInput } from '../../runtime/pipeline/record.js';
import type { ModelRef } from '../../runtime/store/decision-log.js';
import { detectionsRecordData, FrameInterval, zonesRecordData, type ClassName, type DetectionsOptions } from './track-records.js';
import type { IouTracker, TrackedDetection, TrackEvent, TrackUpdate } from './tracker.js';
import { ZoneCounter } from './zone-counts.js';
import type { NamedZone } from './zone-names.js';

export interface TrackReportsOptions {
  readonly zones: readonly NamedZone[];
  readonly minHits: number;
  /** Sampled raw detections (none: no such records). */
  readonly detections: DetectionsOptions | undefined;
  /** Zone count records (none: counts in stats only). */
  readonly zoneCounts: { readonly everyMs: number } | undefined;
}

interface StreamReports {
  readonly counter: ZoneCounter | undefined;
  readonly detections: FrameInterval | undefined;
  readonly zones: FrameInterval | undefined;
}

const ended = (events: readonly TrackEvent[]): TrackEvent['track'][] => events.flatMap((e) => (e.type === 'left' ? [e.track] : []));

/**
 * What a vision stage reports besides its events, per stream: the counts per zone and class
 * (always, for the stage's stats; as `<camera>.zones` records when asked for) and a sample of
 * the raw detections (`<camera>.detections`, when asked for), each at most every `everyMs`
 * of frame time.
 */
export class TrackReports {
  private readonly streams = new Map<string, StreamReports>();
  private readonly names: readonly string[];

  constructor(private readonly o: TrackReportsOptions) {
    this.names = o.zones.map((z) => z.name);
  }

  private of(stream: string): StreamReports {
    let s = this.streams.get(stream);
    if (s === undefined) {
      const { zones, minHits, detections, zoneCounts } = this.o;
      s = {
        counter: zones.length > 0 ? new ZoneCounter(zones.map((z) => z.polygon), minHits) : undefined,
        detections: detections === undefined ? undefined : new FrameInterval(detections.everyMs),
        zones: zoneCounts === undefined ? undefined : new FrameInterval(zoneCounts.everyMs),
      };
      this.streams.set(stream, s);
    }
    return s;
  }

  /** After the tracker took an inferred frame's detections. Returns the records added to `out`. */
  afterFrame(stream: string, frame: RawFrame, detections: readonly TrackedDetection[], tracker: IouTracker, update: TrackUpdate, name: ClassName, model: ModelRef, out: RecordInput[]): number {
    const s = this.of(stream);
    const ts = frame.timestampUs;
    let added = 0;
    if (s.counter !== undefined) {
      s.counter.update(tracker.active, ended(update.events));
      if (s.zones !== undefined && s.counter.changed && s.zones.due(ts)) added += this.zonesRecord(stream, s.counter, ts, name, out);
    }
    if (this.o.detections !== undefined && s.detections?.due(ts) === true) {
      out.push({ stream: `${stream}.detections`, class: 'result', ts: ts / 1000, data: detectionsRecordData(detections, update.trackIds, frame, this.o.detections, name, model) });
      added += 1;
    }
    return added;
  }

  /** The stream stopped and its tracker was flushed: the last counts, however soon after the last record. */
  atEnd(stream: string, events: readonly TrackEvent[], tsUs: number, name: ClassName, out: RecordInput[]): number {
    const counter = this.streams.get(stream)?.counter;
    if (counter === undefined) return 0;
    counter.update([], ended(events));
    return this.o.zoneCounts !== undefined && counter.changed ? this.zonesRecord(stream, counter, tsUs, name, out) : 0;
  }

  private zonesRecord(stream: string, counter: ZoneCounter, tsUs: number, name: ClassName, out: RecordInput[]): number {
    counter.reported();
    out.push({ stream: `${stream}.zones`, class: 'result', ts: tsUs / 1000, data: zonesRecordData(this.names, counter.counts, name) });
    return 1;
  }

  /**
   * Per zone, over all streams: tracks that entered it since the start, and tracks in it now
   * (per class: the zone records), as `zones.<name>.entered` and `zones.<name>.present`. At most
   * 32 keys of at most 78 characters, none but letters, digits, `_`, `.` and `-` (the schema
   * bounds the zones and their names), and no two alike: names are unique, and the fixed
   * prefix and suffix keep them apart from the stage's other details.
   */
  stats(): Record<string, number> {
    const out: Record<string, number> = {};
    this.o.zones.forEach(({ name }, z) => {
      let entered = 0;
      let present = 0;
      for (const { counter } of this.streams.values()) {
        const count = counter?.counts[z];
        for (const n of count?.entered.values() ?? []) entered += n;
        for (const n of count?.present.values() ?? []) present += n;
      }
      out[`zones.${name}.entered`] = entered;
      out[`zones.${name}.present`] = present;
    });
    return out;
  }
}
