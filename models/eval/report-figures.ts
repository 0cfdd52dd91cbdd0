/**
 * The report's figures as inline markup: PR curves (SVG), the confusion matrix (a table coloured
 * by share), and the gallery's thumbnails (SVG holding the PNG as a data: URI, labels as text).
 * No script and no external URL, as the simulator's report (sim/score/svg-plots.ts).
 */
import type { CurvePoint } from './detection-metrics.js';
import { escapeHtml as esc } from './escape-html.js';
import type { GalleryItem } from './evaluation.js';
import { pngDataUri } from './thumbnail.js';

const n = (x: number): string => (Number.isInteger(x) ? String(x) : x.toFixed(1));
const fmt = (x: number, digits = 3): string => (Number.isFinite(x) ? x.toFixed(digits) : '-');

/** What a PR curve figure shows: a detection class at IoU 0.5, or a classification class against the rest. */
export interface CurveFigure {
  readonly name: string;
  /** Positives of the class (truths, or images of it). */
  readonly truths: number;
  readonly curve: readonly CurvePoint[];
  readonly operatingPoint: { readonly recall: number; readonly precision: number };
  /** The heading's numbers, e.g. `AP50 0.912, AP50-95 0.604`. */
  readonly summary: string;
  /** What the marker is, e.g. `at the threshold 0.5`. */
  readonly marker: string;
}

/**
 * One class's PR curve: the precision envelope AP integrates, drawn as steps with the area
 * under it shaded (its area is the AP), and the operating point marked.
 */
export function prCurveSvg(c: CurveFigure): string {
  const width = 280;
  const height = 262;
  const left = 38;
  const top = 26;
  const plot = 200;
  const x = (r: number): number => left + r * plot;
  const y = (p: number): number => top + (1 - p) * plot;
  const title = `${c.name}: ${c.summary}`;
  const parts: string[] = [`<svg xmlns="http://www.w3.org/2000/svg" class="plot pr-curve" data-class="${esc(c.name)}" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="${esc(`Precision-recall curve of ${title}`)}">`];
  parts.push(`<text x="${left}" y="16" class="row-label">${esc(title)}</text>`);
  for (let k = 0; k <= 5; k += 1) {
    const v = k / 5;
    parts.push(`<line x1="${n(x(v))}" y1="${top}" x2="${n(x(v))}" y2="${top + plot}" class="grid"/><line x1="${left}" y1="${n(y(v))}" x2="${left + plot}" y2="${n(y(v))}" class="grid"/>`);
    parts.push(`<text x="${n(x(v))}" y="${top + plot + 14}" class="tick" text-anchor="middle">${v.toFixed(1)}</text><text x="${left - 4}" y="${n(y(v) + 4)}" class="tick" text-anchor="end">${v.toFixed(1)}</text>`);
  }
  parts.push(`<text x="${left + plot / 2}" y="${height - 4}" class="tick" text-anchor="middle">recall</text>`);
  parts.push(`<text x="10" y="${top + plot / 2}" class="tick" text-anchor="middle" transform="rotate(-90 10 ${top + plot / 2})">precision</text>`);
  if (c.truths === 0) parts.push(`<text x="${x(0.5)}" y="${y(0.5)}" class="tick" text-anchor="middle">none of this class</text>`);
  else if (c.curve.length === 0) parts.push(`<text x="${x(0.5)}" y="${y(0.5)}" class="tick" text-anchor="middle">nothing found</text>`);
  else {
    const d = stepPath(c.curve, x, y);
    const last = c.curve.at(-1) as CurvePoint;
    parts.push(`<path d="${d} L${n(x(last.recall))},${n(y(0))} L${n(x(0))},${n(y(0))} Z" class="area"/>`);
    parts.push(`<path d="${d}" class="curve"/>`);
    const op = c.operatingPoint;
    parts.push(`<circle cx="${n(x(op.recall))}" cy="${n(y(op.precision))}" r="4" class="operating"><title>${esc(`${c.marker}: precision ${fmt(op.precision)}, recall ${fmt(op.recall)}`)}</title></circle>`);
  }
  parts.push(`<rect x="${left}" y="${top}" width="${plot}" height="${plot}" class="frame"/></svg>`);
  return parts.join('');
}

/** Precision p_i holds from the previous point's recall to r_i (the steps AP sums): M 0,p1 H r1 V p2 H r2 ... */
function stepPath(curve: readonly CurvePoint[], x: (r: number) => number, y: (p: number) => number): string {
  const d = [`M${n(x(0))},${n(y((curve[0] as CurvePoint).precision))}`];
  curve.forEach((p, i) => {
    if (i > 0) d.push(`V${n(y(p.precision))}`);
    d.push(`H${n(x(p.recall))}`);
  });
  return d.join(' ');
}

/**
 * Counts by true class (rows) and predicted class (columns); each cell is coloured by its share
 * of its row (blue on the diagonal, red off it), so a class with few images shows its mistakes
 * as clearly as a big one. `columns` names the predictions when they are not the classes
 * (an anomaly model answers quiet or alert for normal or abnormal windows).
 */
export function confusionTable(matrix: readonly (readonly number[])[], labels: readonly string[], columns: readonly string[] = labels): string {
  const rows: string[] = ['<table id="confusion-matrix" class="confusion">'];
  rows.push(`<thead><tr><th>true \\ predicted</th>${columns.map((l) => `<th>${esc(l)}</th>`).join('')}</tr></thead><tbody>`);
  matrix.forEach((row, i) => {
    const total = row.reduce((s, v) => s + v, 0);
    const cells = row.map((v, j) => {
      const share = total === 0 ? 0 : v / total;
      const colour = i === j ? '30,99,196' : '198,40,40';
      const style = v === 0 ? '' : ` style="background:rgba(${colour},${(0.12 + 0.68 * share).toFixed(2)})"`;
      return `<td class="cm" data-true="${i}" data-predicted="${j}"${style} title="${esc(`${labels[i] ?? ''} as ${columns[j] ?? ''}: ${v} (${(share * 100).toFixed(1)}% of the row)`)}">${v}</td>`;
    });
    rows.push(`<tr><th>${esc(labels[i] ?? '')}</th>${cells.join('')}</tr>`);
  });
  rows.push('</tbody></table>');
  return rows.join('');
}

/** One gallery entry: the thumbnail with the boxes' labels over it as SVG text, and the caption. */
export function galleryFigure(item: GalleryItem): string {
  const t = item.thumbnail;
  if (t === null) return `<figure class="mistake"><div class="missing">image not readable</div><figcaption>${esc(item.caption)}</figcaption></figure>`;
  const labels = t.boxes.map((b) => {
    const ty = b.box.y > 12 ? b.box.y - 3 : b.box.y + b.box.h + 11;
    const tx = Math.min(Math.max(0, b.box.x), Math.max(0, t.width - 40));
    return `<text x="${n(tx)}" y="${n(ty)}" class="label ${b.kind}${b.strong ? ' strong' : ''}">${esc(b.label)}</text>`;
  });
  return `<figure class="mistake"><svg xmlns="http://www.w3.org/2000/svg" width="${t.width}" height="${t.height}" viewBox="0 0 ${t.width} ${t.height}" role="img" aria-label="${esc(item.caption)}"><image href="${pngDataUri(t.png)}" width="${t.width}" height="${t.height}"/>${labels.join('')}</svg><figcaption>${esc(item.caption)}</figcaption></figure>`;
}
