/** The ground-truth and frame shapes the conveyor camera simulator hands out. */

export type PartShape = 'disc' | 'square' | 'hexagon';
export type PartDefect = 'none' | 'scratch' | 'dent' | 'missing-hole';

export const PART_SHAPES: readonly PartShape[] = ['disc', 'square', 'hexagon'];
export const PART_DEFECTS: readonly Exclude<PartDefect, 'none'>[] = ['scratch', 'dent', 'missing-hole'];

/** A rectangle in source pixels: x, y of the top-left pixel, w, h in pixels. */
export interface PixelBox {
  x: number;
  y: number;
  w: number;
  h: number;
}

export interface PartTruth {
  /** Unique per part, increasing in the order parts enter the frame. */
  id: number;
  shape: PartShape;
  defect: PartDefect;
  /** Bounding box of the part's pixels (coverage >= 0.5) inside the frame, clipped to it. */
  box: PixelBox;
  /** Share of the part's area inside the frame, 0 < visible <= 1. */
  visible: number;
}

export interface ConveyorFrame {
  index: number;
  timestampUs: number;
  width: number;
  height: number;
  /** I420 planes, each owned by this frame: y is width*height, u and v (width/2)*(height/2). */
  y: Uint8Array;
  u: Uint8Array;
  v: Uint8Array;
  /** The belt moved (by at least one pixel) since the previous frame. */
  moving: boolean;
  /** Every part with visible > 0, in id order. */
  parts: PartTruth[];
}
