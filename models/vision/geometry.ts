/** Axis-aligned boxes in pixels: top-left corner and size. */
export interface Box {
  readonly x: number;
  readonly y: number;
  readonly w: number;
  readonly h: number;
}

export function area(b: Box): number {
  return Math.max(0, b.w) * Math.max(0, b.h);
}

/** Intersection over union; 0 for boxes that do not overlap (or have no area). */
export function iou(a: Box, b: Box): number {
  const ix = Math.min(a.x + a.w, b.x + b.w) - Math.max(a.x, b.x);
  const iy = Math.min(a.y + a.h, b.y + b.h) - Math.max(a.y, b.y);
  if (ix <= 0 || iy <= 0) return 0;
  const inter = ix * iy;
  const union = area(a) + area(b) - inter;
  return union > 0 ? inter / union : 0;
}

export function centre(b: Box): { x: number; y: number } {
  return { x: b.x + b.w / 2, y: b.y + b.h / 2 };
}

/** The box clipped to [0, width) x [0, height). */
export function clip(b: Box, width: number, height: number): Box {
  const x0 = Math.min(width, Math.max(0, b.x));
  const y0 = Math.min(height, Math.max(0, b.y));
  const x1 = Math.min(width, Math.max(0, b.x + b.w));
  const y1 = Math.min(height, Math.max(0, b.y + b.h));
  return { x: x0, y: y0, w: x1 - x0, h: y1 - y0 };
}

/** A polygon zone in source-frame pixels. */
export type Zone = readonly (readonly [number, number])[];

/** Point-in-polygon by ray casting (even-odd rule). */
export function insideZone(zone: Zone, x: number, y: number): boolean {
  let inside = false;
  for (let i = 0, j = zone.length - 1; i < zone.length; j = i, i += 1) {
    const [xi, yi] = zone[i] as readonly [number, number];
    const [xj, yj] = zone[j] as readonly [number, number];
    if (yi > y !== yj > y && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}
