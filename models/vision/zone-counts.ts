import { centre, insideZone, type Zone } from './geometry.js';
import type { Track } from './track.js';

/** Per class id: how many. */
export type ClassCounts = ReadonlyMap<number, number>;

export interface ZoneCount {
  /** Tracks whose centre has been in the zone, by their label (moved when a label is corrected), since the counter started. */
  readonly entered: ClassCounts;
  /** Tracks whose centre is in the zone now (at their last sighting), by label. */
  readonly present: ClassCounts;
}

/**
 * Counts per zone and class, as Frigate's zones do: how many objects have entered each zone
 * and how many are in it now. A track counts once it has `minHits` sightings (a stray box is
 * no object), once per zone however often it goes in and out, and always under its current
 * label: when a track's label is corrected, its count moves with it, so the counts agree with
 * the `left` events. Pure: the stage feeds it the tracker's tracks after every inferred frame.
 */
export class ZoneCounter {
  private readonly entered: Map<number, number>[];
  private present: Map<number, number>[];
  /** For each live track, the label it is counted under in each zone it entered. */
  private readonly counted = new Map<Track, Map<number, number>>();
  /** Changed since the last `reported()`. */
  private dirty = false;

  constructor(
    readonly zones: readonly Zone[],
    private readonly minHits: number,
  ) {
    this.entered = zones.map(() => new Map());
    this.present = zones.map(() => new Map());
  }

  /** `active`: the tracker's tracks now; `ended`: tracks that ended in this frame (their last label counts). */
  update(active: readonly Track[], ended: readonly Track[] = []): void {
    const present = this.zones.map(() => new Map<number, number>());
    const gone = new Set(ended);
    for (const t of [...active, ...ended]) {
      if (t.hits < this.minHits) continue;
      const label = t.classId;
      const c = centre(t.box);
      let zonesOf = this.counted.get(t);
      // A label corrected since the track was counted: its count moves to the new label.
      if (zonesOf !== undefined) {
        for (const [z, was] of zonesOf) {
          if (was === label) continue;
          const counts = this.entered[z] as Map<number, number>;
          add(counts, was, -1);
          add(counts, label, 1);
          zonesOf.set(z, label);
          this.dirty = true;
        }
      }
      this.zones.forEach((zone, z) => {
        if (!insideZone(zone, c.x, c.y)) return;
        if (!gone.has(t)) add(present[z] as Map<number, number>, label, 1);
        if (zonesOf?.has(z) === true) return;
        zonesOf ??= new Map();
        this.counted.set(t, zonesOf);
        zonesOf.set(z, label);
        add(this.entered[z] as Map<number, number>, label, 1);
        this.dirty = true;
      });
    }
    for (const t of ended) this.counted.delete(t);
    // Tracks that ended without being reported (fewer than minHits, or by flush) are forgotten too: the map stays bounded by the tracker's.
    if (this.counted.size > active.length) {
      const live = new Set(active);
      for (const t of this.counted.keys()) if (!live.has(t)) this.counted.delete(t);
    }
    if (!this.dirty && !present.every((m, z) => sameCounts(m, this.present[z] as Map<number, number>))) this.dirty = true;
    this.present = present;
  }

  get counts(): readonly ZoneCount[] {
    return this.zones.map((_, z) => ({ entered: this.entered[z] as ClassCounts, present: this.present[z] as ClassCounts }));
  }

  /** The counts changed since `reported()` was last called (records are sent on change only). */
  get changed(): boolean {
    return this.dirty;
  }

  reported(): void {
    this.dirty = false;
  }
}

function add(m: Map<number, number>, k: number, n: number): void {
  const v = (m.get(k) ?? 0) + n;
  if (v === 0) m.delete(k);
  else m.set(k, v);
}

function sameCounts(a: ReadonlyMap<number, number>, b: ReadonlyMap<number, number>): boolean {
  if (a.size !== b.size) return false;
  for (const [k, v] of a) if (b.get(k) !== v) return false;
  return true;
}
