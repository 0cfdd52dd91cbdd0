import type { Zone } from './geometry.js';

/**
 * What a zone may be called: letters, digits, `_`, `.` and `-`, at most 64. A name goes into
 * records, events and the stage's health detail keys (`zones.<name>.entered`), so it needs no
 * quoting anywhere and keeps those keys short.
 */
export const ZONE_NAME_PATTERN = '^[A-Za-z0-9_.-]{1,64}$';

/** A zone as the stage uses it: its name and its polygon in source pixels. */
export interface NamedZone {
  readonly name: string;
  readonly polygon: Zone;
}

/** A zone as the config gives it: a bare polygon (the old form, still valid) or a named one. */
export type ConfigZone = readonly (readonly number[])[] | { readonly name: string; readonly points: readonly (readonly number[])[] };

/** What a bare polygon is called: `zone-` and its place in `zones` (the first is zone-0). */
export const defaultZoneName = (index: number): string => `zone-${index}`;

const isNamed = (z: ConfigZone): z is Extract<ConfigZone, { name: string }> => !Array.isArray(z);

const polygonOf = (points: readonly (readonly number[])[]): Zone => points.map((p) => [p[0] as number, p[1] as number] as const);

/** The config's zones with their names (given, or by default) and polygons. */
export function namedZones(zones: readonly ConfigZone[]): NamedZone[] {
  return zones.map((z, i) => (isNamed(z) ? { name: z.name, polygon: polygonOf(z.points) } : { name: defaultZoneName(i), polygon: polygonOf(z) }));
}

/** A name given twice: where to fix it (a zone's `name`) and which zone already has it. */
export interface ZoneNameClash {
  /** The zone whose `name` must change: the later of two named zones, or the named one of a named and a bare zone. */
  readonly index: number;
  readonly name: string;
  readonly other: number;
  /** The other zone is a bare polygon, called `name` by default. */
  readonly otherByDefault: boolean;
}

/** Names that two zones share, given or by default (a zone named `zone-1` beside a bare second zone is one). */
export function zoneNameClashes(zones: readonly ConfigZone[]): ZoneNameClash[] {
  const first = new Map<string, number>();
  const clashes: ZoneNameClash[] = [];
  namedZones(zones).forEach(({ name }, i) => {
    const other = first.get(name);
    if (other === undefined) {
      first.set(name, i);
      return;
    }
    // Only a given name can be changed: when this zone is bare, the earlier (named) one is at fault.
    const here = isNamed(zones[i] as ConfigZone);
    clashes.push(here ? { index: i, name, other, otherByDefault: !isNamed(zones[other] as ConfigZone) } : { index: other, name, other: i, otherByDefault: true });
  });
  return clashes;
}
