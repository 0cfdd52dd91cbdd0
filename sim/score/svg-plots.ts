/**
 * The report's plots as inline SVG strings: no script, no external file, so the HTML opens
 * anywhere (an air-gapped plant laptop included) and prints as it looks.
 */
import type { HistogramBin } from './latency.js';
import type { RolloutScore } from './rollout.js';
import type { GatewayScore } from './scorecard.js';

export function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);
}

const n = (x: number): string => (Number.isInteger(x) ? String(x) : x.toFixed(1));

/** About `count` round steps (1, 2 or 5 times a power of ten) covering [0, span]. */
export function niceStep(span: number, count: number): number {
  if (!(span > 0)) return 1;
  const raw = span / count;
  const pow = 10 ** Math.floor(Math.log10(raw));
  const m = raw / pow;
  return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * pow;
}

/** Where the timeline starts and ends, in ms since 1970. */
export interface TimeRange {
  readonly startMs: number;
  readonly endMs: number;
}

/** At most this many gateway rows; a plant's quiet gateways are left out first. */
export const MAX_TIMELINE_ROWS = 200;

/**
 * One row per gateway on a shared time axis (seconds from the run's start): injected sensor
 * faults as red bands (hollow when missed), plant disruptions (outage, partition, kill, cable
 * pull, full disk) as grey bands, alerts as bars (blue when they match a fault, orange when
 * false), defect events as ticks.
 */
export function timelineSvg(gateways: readonly GatewayScore[], range: TimeRange): string {
  const label = 150;
  const width = 900;
  const rowH = 22;
  const plotW = width - label - 10;
  const rows = gateways.slice(0, MAX_TIMELINE_ROWS);
  const height = 30 + rows.length * rowH + 26;
  const spanMs = Math.max(1, range.endMs - range.startMs);
  const x = (ms: number): number => label + (Math.min(Math.max(ms, range.startMs), range.endMs) - range.startMs) * (plotW / spanMs);
  const w = (a: number, b: number): number => Math.max(1.5, x(b) - x(a));
  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" class="plot" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="Timeline of injected faults and raised alerts per gateway">`);
  const step = niceStep(spanMs / 1000, 8);
  const axisY = 30 + rows.length * rowH;
  for (let s = 0; s * 1000 <= spanMs; s += step) {
    const px = x(range.startMs + s * 1000);
    parts.push(`<line x1="${n(px)}" y1="24" x2="${n(px)}" y2="${axisY}" class="grid"/><text x="${n(px)}" y="${axisY + 16}" class="tick" text-anchor="middle">${n(s)} s</text>`);
  }
  rows.forEach((g, i) => {
    const y = 30 + i * rowH;
    const t = g.timeline;
    parts.push(`<text x="${label - 6}" y="${y + 15}" class="row-label" text-anchor="end">${escapeXml(g.gatewayId)}</text>`);
    parts.push(`<line x1="${label}" y1="${y + rowH - 1}" x2="${width - 10}" y2="${y + rowH - 1}" class="row-line"/>`);
    for (const d of t.disruptions) {
      parts.push(`<rect x="${n(x(d.startMs))}" y="${y + 1}" width="${n(w(d.startMs, d.endMs))}" height="${rowH - 3}" class="disruption"><title>${escapeXml(d.kind)}</title></rect>`);
    }
    for (const f of t.faults) {
      parts.push(`<rect x="${n(x(f.startMs))}" y="${y + 2}" width="${n(w(f.startMs, f.endMs))}" height="${rowH - 12}" class="${f.detected ? 'fault' : 'fault missed'}"><title>${escapeXml(f.kind)}${f.detected ? '' : ' (missed)'}</title></rect>`);
    }
    for (const a of t.alerts) {
      parts.push(`<rect x="${n(x(a.startMs))}" y="${y + rowH - 10}" width="${n(w(a.startMs, a.endMs))}" height="7" class="${a.matched ? 'alert' : 'alert false'}"><title>${a.matched ? 'alert' : 'false alert'}${a.open ? ' (still open)' : ''}</title></rect>`);
    }
    for (const e of t.defectEvents) {
      const px = n(x(e.tMs));
      parts.push(`<line x1="${px}" y1="${y + 2}" x2="${px}" y2="${y + rowH - 3}" class="${e.matched ? 'defect' : 'defect false'}"/>`);
    }
  });
  const legend: [string, string][] = [
    ['fault', 'sensor fault'],
    ['fault missed', 'missed fault'],
    ['alert', 'alert'],
    ['alert false', 'false alert'],
    ['disruption', 'outage, partition, kill, cable pull, full disk'],
  ];
  let lx = label;
  for (const [cls, text] of legend) {
    parts.push(`<rect x="${lx}" y="6" width="12" height="10" class="${cls}"/><text x="${lx + 16}" y="15" class="tick">${escapeXml(text)}</text>`);
    lx += 16 + text.length * 6 + 18; // about 6 px a character at 11 px
  }
  parts.push('</svg>');
  return parts.join('');
}

/** The latency distribution as bars, with p50 and p99 marked. */
export function histogramSvg(bins: readonly HistogramBin[], p50Ms: number | null, p99Ms: number | null): string {
  const width = 900;
  const height = 230;
  const left = 50;
  const bottom = 30;
  const top = 24;
  const plotW = width - left - 10;
  const plotH = height - bottom - top;
  const parts: string[] = [`<svg xmlns="http://www.w3.org/2000/svg" class="plot" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="End-to-end latency distribution">`];
  if (bins.length === 0) {
    parts.push(`<text x="${width / 2}" y="${height / 2}" class="tick" text-anchor="middle">no latency samples</text></svg>`);
    return parts.join('');
  }
  const lo = (bins[0] as HistogramBin).fromMs;
  const hi = (bins.at(-1) as HistogramBin).toMs;
  const maxCount = Math.max(...bins.map((b) => b.count), 1);
  const x = (ms: number): number => left + ((ms - lo) / Math.max(1e-9, hi - lo)) * plotW;
  const y = (c: number): number => top + plotH - (c / maxCount) * plotH;
  for (const b of bins) {
    parts.push(`<rect x="${n(x(b.fromMs))}" y="${n(y(b.count))}" width="${n(Math.max(1, x(b.toMs) - x(b.fromMs) - 1))}" height="${n(top + plotH - y(b.count))}" class="bar"><title>${n(b.fromMs)} to ${n(b.toMs)} ms: ${Math.round(b.count)}</title></rect>`);
  }
  const step = niceStep(hi - lo, 8);
  for (let v = Math.ceil(lo / step) * step; v <= hi; v += step) {
    parts.push(`<text x="${n(x(v))}" y="${height - 10}" class="tick" text-anchor="middle">${n(v)} ms</text>`);
  }
  // Labels above the bars: p50 to the left of its line, p99 to the right (or left, at the right edge).
  for (const [name, v] of [['p50', p50Ms], ['p99', p99Ms]] as const) {
    if (v === null) continue;
    const px = x(v);
    const right = name === 'p99' && px < width - 110;
    parts.push(`<line x1="${n(px)}" y1="${top}" x2="${n(px)}" y2="${top + plotH}" class="marker"/><text x="${n(right ? px + 4 : px - 4)}" y="16" class="tick" text-anchor="${right ? 'start' : 'end'}">${name} ${n(v)} ms</text>`);
  }
  parts.push(`<line x1="${left}" y1="${top + plotH}" x2="${width - 10}" y2="${top + plotH}" class="axis"/></svg>`);
  return parts.join('');
}

/** Each rollout's waves as stacked bars: running the release, failed, switched back, not reached. */
export function rolloutSvg(rollout: RolloutScore): string {
  const width = 900;
  const rowH = 24;
  const label = 90;
  const height = 10 + Math.max(1, rollout.waves.length) * rowH + 10;
  const plotW = width - label - 60;
  const parts: string[] = [`<svg xmlns="http://www.w3.org/2000/svg" class="plot" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="Rollout ${escapeXml(rollout.rolloutId)} waves">`];
  rollout.waves.forEach((wave, i) => {
    const y = 10 + i * rowH;
    const total = Math.max(1, wave.total);
    const segs: [string, number][] = [
      ['active', wave.active],
      ['failed', wave.failed],
      ['reverted', wave.reverted],
    ];
    parts.push(`<text x="${label - 6}" y="${y + 15}" class="row-label" text-anchor="end">wave ${i + 1}${rollout.gateFailedAtWave === i ? ' (gate)' : ''}</text>`);
    parts.push(`<rect x="${label}" y="${y + 3}" width="${plotW}" height="${rowH - 8}" class="unreached"/>`);
    let at = label;
    for (const [cls, count] of segs) {
      if (count <= 0) continue;
      // Clamped: a tally read mid-change may count one gateway in two states.
      const sw = Math.min((count / total) * plotW, label + plotW - at);
      parts.push(`<rect x="${n(at)}" y="${y + 3}" width="${n(sw)}" height="${rowH - 8}" class="${cls}"><title>${cls}: ${count}</title></rect>`);
      at += sw;
    }
    parts.push(`<text x="${label + plotW + 6}" y="${y + 15}" class="tick">${wave.active}/${wave.total}</text>`);
  });
  parts.push('</svg>');
  return parts.join('');
}
