import type { ProblemList } from './dataset-error.js';
import type { LabelledBox } from './types.js';

/**
 * YOLO label files: one object a line, `class cx cy w h`, the box's centre and size as shares
 * of the image's width and height (0..1), fields separated by spaces. An empty file (or none)
 * is an image without objects. Like Ultralytics' detect task, a line of 1 + 2k numbers (k >= 3:
 * a segmentation polygon, `class x1 y1 x2 y2 x3 y3 ...`) stands for the box around its points,
 * so a segmentation dataset trains a detector as it is.
 */

/**
 * How far a value may stray outside 0..1 and still count as inside: labelling tools write
 * 1.0000001 from float rounding; a real mistake (pixels instead of shares) is far bigger.
 */
const ROUNDING = 1e-6;

const FIELD_NAMES = ['cx', 'cy', 'w', 'h'] as const;

/**
 * The boxes of one label file; each bad line is a problem (file:line) and is left out.
 * `classCount`: the number of class names (a class id must be below it).
 */
export function parseLabelFile(text: string, file: string, classCount: number, problems: ProblemList): LabelledBox[] {
  const boxes: LabelledBox[] = [];
  const seen = new Set<string>();
  // A byte-order mark (Windows Notepad writes one) is not part of the first class id.
  const lines = text.replace(/^\uFEFF/, '').split(/\r\n|\n|\r/);
  for (let i = 0; i < lines.length; i += 1) {
    const line = (lines[i] as string).trim();
    if (line === '') continue;
    const parsed = parseLabelLine(line, classCount);
    if (typeof parsed === 'string') {
      problems.add(file, parsed, i + 1);
      continue;
    }
    // A line twice (a labelling tool's double click) is one object, as Ultralytics keeps it.
    const key = `${parsed.classId} ${parsed.cx} ${parsed.cy} ${parsed.w} ${parsed.h}`;
    if (seen.has(key)) continue;
    seen.add(key);
    boxes.push(parsed);
  }
  return boxes;
}

/** One label line (trimmed, not empty) to a box, or what is wrong with it. */
export function parseLabelLine(line: string, classCount: number): LabelledBox | string {
  const fields = line.split(/\s+/);
  const polygon = fields.length >= 7 && fields.length % 2 === 1;
  if (fields.length !== 5 && !polygon) {
    return `expected 5 fields "class cx cy w h" (or a polygon "class x1 y1 x2 y2 x3 y3 ..."), got ${fields.length}: ${clip(line)}`;
  }
  const numbers: number[] = [];
  for (let k = 0; k < fields.length; k += 1) {
    const text = fields[k] as string;
    const value = Number(text);
    if (!Number.isFinite(value) || text === '') return `field ${k + 1} (${k === 0 ? 'class' : polygon ? `point ${Math.ceil(k / 2)} ${k % 2 === 1 ? 'x' : 'y'}` : FIELD_NAMES[k - 1]}) is not a number: ${JSON.stringify(clip(text))}`;
    numbers.push(value);
  }
  const classId = numbers[0] as number;
  if (!Number.isInteger(classId) || classId < 0) return `class ${fields[0]} is not a class id (a whole number from 0)`;
  if (classId >= classCount) return `class ${classId} is beyond the ${classCount} class names (ids 0..${classCount - 1}): add its name to data.yaml or fix the id`;
  for (let k = 1; k < numbers.length; k += 1) {
    const v = numbers[k] as number;
    if (v < -ROUNDING || v > 1 + ROUNDING) {
      const name = polygon ? `point ${Math.ceil(k / 2)} ${k % 2 === 1 ? 'x' : 'y'}` : (FIELD_NAMES[k - 1] as string);
      return `${name} ${fields[k]} is outside [0, 1]: YOLO labels are shares of the image's width and height, not pixels`;
    }
  }
  const unit = (v: number): number => Math.min(1, Math.max(0, v));
  if (polygon) {
    const xs = numbers.filter((_, k) => k > 0 && k % 2 === 1).map(unit);
    const ys = numbers.filter((_, k) => k > 0 && k % 2 === 0).map(unit);
    return boxBetween(classId, Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)) ?? `polygon with no area: ${clip(line)}`;
  }
  const [, cx, cy, w, h] = numbers as [number, number, number, number, number];
  if (!(w > 0) || !(h > 0)) return `box of size ${fields[3]} x ${fields[4]}: w and h must be above 0`;
  // Inside the image: kept exactly as written (a round trip through a file changes nothing).
  if (cx - w / 2 >= 0 && cx + w / 2 <= 1 && cy - h / 2 >= 0 && cy + h / 2 <= 1) return { classId, cx, cy, w, h };
  // Past the edge (by float rounding, or a box drawn over it): cut at the edge, as the image is.
  return boxBetween(classId, unit(cx - w / 2), unit(cx + w / 2), unit(cy - h / 2), unit(cy + h / 2)) ?? `box with no area inside the image: ${clip(line)}`;
}

function boxBetween(classId: number, x0: number, x1: number, y0: number, y1: number): LabelledBox | undefined {
  if (!(x1 > x0) || !(y1 > y0)) return undefined;
  return { classId, cx: (x0 + x1) / 2, cy: (y0 + y1) / 2, w: x1 - x0, h: y1 - y0 };
}

/** A box as a label line (6 decimals: a thousandth of a pixel on a 1000-pixel image). */
export function formatLabelLine(box: LabelledBox): string {
  return `${box.classId} ${box.cx.toFixed(6)} ${box.cy.toFixed(6)} ${box.w.toFixed(6)} ${box.h.toFixed(6)}`;
}

function clip(text: string): string {
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}
