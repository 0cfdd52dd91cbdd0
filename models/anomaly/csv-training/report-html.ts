/**
 * `edgewise model eval`'s report for an anomaly model, one self-contained HTML file in the look
 * of the vision report (models/eval/report-html.ts, whose stylesheet and figures it uses): the
 * summary, the window-level confusion matrix and PR curve at the card's threshold, a score
 * timeline per log with the labelled faults and the alerts, and the worst mistakes (missed
 * faults, false alerts). Every file and channel name is escaped.
 */
import { escapeHtml as esc } from '../../eval/escape-html.js';
import { confusionTable, prCurveSvg } from '../../eval/report-figures.js';
import { cell, fmt, head, htmlPage, statCard } from '../../eval/report-style.js';
import { anomalyEvaluationLine, type AnomalyEvaluation, type FaultOutcome, type ScoreTimeline } from './evaluate-anomaly-model.js';

/** Rows each mistakes table shows at most (the rest are counted, and all are in metrics.json). */
export const MAX_MISTAKE_ROWS = 100;

export interface AnomalyReportContext {
  /** The MODEL_DIR and the logs it was evaluated on, as given on the command line. */
  readonly modelDir: string;
  readonly data: string;
  readonly architecture: string;
  readonly finishedAt: string;
}

const n = (x: number): string => (Number.isInteger(x) ? String(x) : x.toFixed(1));
const num = (x: number | null, digits = 3): string => (x === null ? '-' : fmt(x, digits));
const iso = (ms: number): string => new Date(ms).toISOString();
const seconds = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;

/**
 * One log's scores over time: the highest window score per bucket (a gap where none was
 * scored), the alert threshold, the labelled faults shaded, the alerts marked (green: the one
 * that caught a fault; red: a false alert).
 */
export function timelineSvg(t: ScoreTimeline, e: AnomalyEvaluation): string {
  const width = 960;
  const height = 170;
  const left = 40;
  const top = 24;
  const plotW = width - left - 10;
  const plotH = 110;
  const spanMs = Math.max(1, t.bucketMs * (t.peaks.length - 1));
  const top1 = Math.max(1, ...t.peaks.map((p) => p ?? 0));
  const x = (ms: number): number => left + (Math.min(Math.max(ms - t.startMs, 0), spanMs) / spanMs) * plotW;
  const y = (s: number): number => top + (1 - Math.min(s, top1) / top1) * plotH;
  const faults = e.faults.filter((f) => f.file === t.file);
  const falseAlerts = e.falseAlerts.filter((a) => a.file === t.file);
  const parts: string[] = [`<svg xmlns="http://www.w3.org/2000/svg" class="plot timeline" data-file="${esc(t.file)}" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="${esc(`Window scores of ${t.file} over time`)}">`];
  parts.push(`<text x="${left}" y="16" class="row-label">${esc(`${t.file}: ${faults.filter((f) => f.detected).length}/${faults.length} faults caught, ${falseAlerts.length} false alerts`)}</text>`);
  for (const f of faults) {
    parts.push(`<rect class="fault" data-first-row="${f.firstRow}" data-last-row="${f.lastRow}" x="${n(x(f.startMs))}" y="${top}" width="${n(Math.max(1, x(f.endMs) - x(f.startMs)))}" height="${plotH}"><title>${esc(`fault, rows ${f.firstRow}-${f.lastRow}: ${f.detected ? `caught after ${seconds(f.delayMs ?? 0)}` : `missed, peak score ${f.peakScore}`}`)}</title></rect>`);
  }
  for (let k = 0; k <= 4; k += 1) {
    const v = (top1 * k) / 4;
    parts.push(`<line x1="${left}" y1="${n(y(v))}" x2="${left + plotW}" y2="${n(y(v))}" class="grid"/><text x="${left - 4}" y="${n(y(v) + 4)}" class="tick" text-anchor="end">${v.toFixed(2)}</text>`);
  }
  parts.push(`<text x="${left}" y="${top + plotH + 14}" class="tick">${esc(iso(t.startMs))}</text><text x="${left + plotW}" y="${top + plotH + 14}" class="tick" text-anchor="end">${esc(`+${seconds(spanMs)}`)}</text>`);
  // The score as a line, broken at a gap in the log. Buckets shorter than the stride are empty
  // between windows as a matter of course: a gap is a silence over 3 times the usual spacing.
  const scored = t.peaks.flatMap((p, i) => (p === null ? [] : [i]));
  const spacing = scored.slice(1).map((i, k) => i - (scored[k] as number)).sort((a, b) => a - b);
  const usual = spacing[Math.floor(spacing.length / 2)] ?? 1;
  const d = scored.map((i, k) => `${k > 0 && i - (scored[k - 1] as number) <= 3 * usual ? 'L' : 'M'}${n(x(t.startMs + i * t.bucketMs))},${n(y(t.peaks[i] as number))}`);
  if (d.length > 0) parts.push(`<path d="${d.join(' ')}" class="score"/>`);
  parts.push(`<line x1="${left}" y1="${n(y(e.alert.raiseThreshold))}" x2="${left + plotW}" y2="${n(y(e.alert.raiseThreshold))}" class="threshold"><title>${esc(`alerts at a smoothed score of ${e.alert.raiseThreshold} held ${seconds(e.alert.minDurationMs)}`)}</title></line>`);
  if (e.threshold !== e.alert.raiseThreshold) parts.push(`<line x1="${left}" y1="${n(y(e.threshold))}" x2="${left + plotW}" y2="${n(y(e.threshold))}" class="window-threshold"><title>${esc(`the card's window threshold ${e.threshold}`)}</title></line>`);
  for (const f of faults) {
    if (f.delayMs !== null) parts.push(`<circle class="alert-mark caught" cx="${n(x(f.startMs + f.delayMs))}" cy="${top + plotH}" r="4"><title>${esc(`alert at ${iso(f.startMs + f.delayMs)} (${f.channels.join(', ')})`)}</title></circle>`);
  }
  for (const a of falseAlerts) parts.push(`<circle class="alert-mark false" cx="${n(x(a.startMs))}" cy="${top + plotH}" r="4"><title>${esc(`false alert at ${iso(a.startMs)}, peak score ${a.peakScore} (${a.channels.join(', ')})`)}</title></circle>`);
  parts.push(`<rect x="${left}" y="${top}" width="${plotW}" height="${plotH}" class="frame"/></svg>`);
  return parts.join('');
}

function moreRows(shown: number, total: number): string {
  return total > shown ? `<p class="sub">And ${total - shown} more (all in metrics.json).</p>` : '';
}

function missedTable(e: AnomalyEvaluation): string {
  // The worst first: the faults the model scored lowest (the farthest from being caught).
  const missed = e.faults.filter((f) => !f.detected).sort((a, b) => a.peakScore - b.peakScore);
  if (missed.length === 0) return '<p class="sub">None.</p>';
  const rows = missed.slice(0, MAX_MISTAKE_ROWS).map((f: FaultOutcome) => `<tr>${[f.file, `${f.firstRow}-${f.lastRow}`, iso(f.startMs), seconds(f.endMs - f.startMs), fmt(f.peakScore), fmt(e.alert.raiseThreshold, 2), fmt(e.alert.raiseThreshold - f.peakScore)].map(cell).join('')}</tr>`);
  return `<table id="missed-faults">${head(['log', 'rows', 'start', 'lasting', 'peak score', 'alerts at', 'short by'])}<tbody>${rows.join('')}</tbody></table>${moreRows(rows.length, missed.length)}`;
}

function falseAlertTable(e: AnomalyEvaluation): string {
  // The worst first: the most confident.
  const alerts = [...e.falseAlerts].sort((a, b) => b.peakScore - a.peakScore);
  if (alerts.length === 0) return '<p class="sub">None.</p>';
  const rows = alerts.slice(0, MAX_MISTAKE_ROWS).map((a) => `<tr>${[a.file, iso(a.startMs), a.channels.join(', '), fmt(a.peakScore)].map(cell).join('')}</tr>`);
  return `<table id="false-alerts">${head(['log', 'raised at', 'channels', 'peak score'])}<tbody>${rows.join('')}</tbody></table>${moreRows(rows.length, alerts.length)}`;
}

export function renderAnomalyReport(e: AnomalyEvaluation, c: AnomalyReportContext): string {
  const title = `edgewise model eval: ${c.architecture} (anomaly)`;
  const caught = e.faults.filter((f) => f.detected).length;
  const body: string[] = [];
  body.push(`<h1>${esc(title)}</h1>`);
  body.push(`<p class="sub">The model from ${esc(c.modelDir)} on the logs of ${esc(c.data)}, run as a gateway's anomaly stage runs it (windows every stride, ONNX Runtime on the CPU, the peak of the last ${seconds(e.alert.smoothingMs)}, its alert policy: raised at ${e.alert.raiseThreshold} held ${seconds(e.alert.minDurationMs)}, cleared at ${e.alert.clearThreshold}); finished ${esc(c.finishedAt)}.</p>`);
  if (e.resampled.length > 0) body.push(`<ul><li>${esc(`Resampled to the model's rate: ${e.resampled.join(', ')}`)}</li></ul>`);
  body.push('<div class="cards">');
  body.push(statCard('windows', String(e.windows)));
  body.push(statCard(`precision at ${e.threshold}`, num(e.precision)));
  body.push(statCard(`recall at ${e.threshold}`, num(e.recall)));
  body.push(statCard('F1', num(e.f1)));
  body.push(statCard('ROC AUC', num(e.auc)));
  body.push(statCard('faults caught', `${caught}/${e.faults.length}`));
  body.push(statCard('faults missed', String(e.faults.length - caught)));
  body.push(statCard('false alerts', String(e.falseAlerts.length)));
  body.push(statCard('NAB score', num(e.nab, 1)));
  body.push(statCard('hours of normal running', fmt(e.normalHours, 2)));
  body.push('</div>');
  body.push(`<p class="sub">Window level: ${e.normalWindows} normal and ${e.abnormalWindows} abnormal windows; ${e.mixedWindows} at a fault's edge (normal and abnormal rows) are left out. Fault level: an alert raised within a labelled fault (or while its last windows still hold it) catches it; any other alert on a labelled log is false. NAB score, standard profile: 100 catches every fault at its first row with no false alert, 0 catches nothing.</p>`);
  body.push('<h2>Confusion matrix</h2>');
  body.push(`<p class="sub">Windows by label (rows) and by whether their score reached the card's threshold ${esc(String(e.threshold))} (columns).</p>`);
  const m = e.confusion;
  body.push(confusionTable([[m.trueNegatives, m.falsePositives], [m.falseNegatives, m.truePositives]], ['normal', 'abnormal'], ['quiet', 'alert']));
  body.push('<h2>Precision-recall curve</h2>');
  if (e.prCurve.length === 0) body.push('<p class="sub">No abnormal window labelled: no curve.</p>');
  else {
    body.push(`<p class="sub">Abnormal windows found by ranking the window scores; the shaded area is the AP, the red dot the card's threshold ${esc(String(e.threshold))}.</p>`);
    body.push(`<div class="curves">${prCurveSvg({ name: 'abnormal windows', truths: e.abnormalWindows, curve: e.prCurve, operatingPoint: { recall: e.recall ?? 0, precision: e.precision ?? 0 }, summary: `AP ${num(e.ap)}`, marker: `at the threshold ${e.threshold}` })}</div>`);
  }
  body.push('<h2>Scores over time</h2>');
  body.push('<p class="sub legend">Per log, the highest window score in each stretch of time (blue), labelled faults <span class="fault">shaded</span>, the alert threshold dashed red; alerts are dots on the time axis, <span class="caught">green</span> one that caught a fault, <span class="false">red</span> a false one.</p>');
  body.push(...e.timelines.map((t) => timelineSvg(t, e)));
  body.push('<h2>Worst mistakes</h2>');
  body.push('<h3>Missed faults</h3><p class="sub">No alert within the fault; the lowest peak score first (how far below the alert threshold it stayed).</p>');
  body.push(missedTable(e));
  body.push('<h3>False alerts</h3><p class="sub">Alerts raised where no fault is labelled, the highest peak score first, with the channels the alert named.</p>');
  body.push(falseAlertTable(e));
  body.push('<h2>The summary line</h2>');
  body.push(`<p><code>${esc(JSON.stringify(anomalyEvaluationLine(e)))}</code></p>`);
  return htmlPage(title, body);
}
