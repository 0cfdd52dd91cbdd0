/**
 * What every `edgewise model eval` report shares (vision in report-html.ts, anomaly in
 * models/anomaly/csv-training/report-html.ts): the stylesheet, the page around the body, and
 * the small pieces (number format, table head and cell, summary card). Every text is escaped.
 */
import { escapeHtml as esc } from './escape-html.js';

export const REPORT_CSS = `
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;color:#1d2430;margin:24px auto;max-width:1100px;padding:0 16px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #d8dde6;padding-bottom:4px}
.sub{color:#5b6575;margin:0 0 16px}
.cards{display:flex;flex-wrap:wrap;gap:8px}.card{border:1px solid #d8dde6;border-radius:6px;padding:8px 12px;min-width:110px}
.card b{display:block;font-size:20px}.card span{color:#5b6575;font-size:12px}
table{border-collapse:collapse;width:100%;font-variant-numeric:tabular-nums}th,td{padding:3px 8px;border-bottom:1px solid #eceff4;text-align:right}
th:first-child,td:first-child{text-align:left}th{background:#f5f7fa;font-weight:600}
table.confusion{width:auto}table.confusion td{min-width:44px;text-align:center}
ul{margin:6px 0;padding-left:20px}code{font-size:12px;background:#f5f7fa;padding:2px 4px;border-radius:3px;word-break:break-all}
.curves{display:flex;flex-wrap:wrap;gap:8px}
svg.plot{max-width:100%;height:auto;display:block;margin:8px 0}
.grid{stroke:#eceff4}.frame{fill:none;stroke:#8a94a6}.tick{font-size:11px;fill:#5b6575}.row-label{font-size:12px;fill:#1d2430;font-weight:600}
.curve{fill:none;stroke:#1e63c4;stroke-width:2}.area{fill:#1e63c4;fill-opacity:.12}.operating{fill:#c62828}
.gallery{display:flex;flex-wrap:wrap;gap:12px}
figure.mistake{margin:0;width:240px}figure.mistake svg{display:block;border:1px solid #d8dde6}
figure.mistake figcaption{font-size:12px;color:#1d2430;word-break:break-word}.missing{width:240px;height:120px;background:#f5f7fa;color:#5b6575;display:flex;align-items:center;justify-content:center}
.label{font-size:11px;font-weight:600;paint-order:stroke;stroke:#fff;stroke-width:3px}.label.truth{fill:#2e7d32}.label.prediction{fill:#c62828}
.legend .truth{color:#2e7d32;font-weight:600}.legend .prediction{color:#c62828;font-weight:600}
.fault{fill:#c62828;fill-opacity:.12}.score{fill:none;stroke:#1e63c4;stroke-width:1.5}.threshold{stroke:#c62828;stroke-dasharray:4 3}.window-threshold{stroke:#8a94a6;stroke-dasharray:2 3}
.alert-mark.caught{fill:#2e7d32}.alert-mark.false{fill:#c62828}
.legend .fault{background:rgba(198,40,40,.12);padding:0 4px}.legend .caught{color:#2e7d32;font-weight:600}.legend .false{color:#c62828;font-weight:600}
`;

/** A number for a table or a card, `-` for NaN or infinity (a metric with nothing to measure). */
export const fmt = (x: number, digits = 3): string => (Number.isFinite(x) ? x.toFixed(digits) : '-');
export const cell = (text: string): string => `<td>${esc(text)}</td>`;
export const head = (names: readonly string[]): string => `<thead><tr>${names.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead>`;
export const statCard = (label: string, value: string): string => `<div class="card"><b>${esc(value)}</b><span>${esc(label)}</span></div>`;

/** The self-contained page: inline CSS, no script, no external URL. `body` is markup already escaped. */
export function htmlPage(title: string, body: readonly string[], css: string = REPORT_CSS): string {
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)}</title>
<style>${css}</style>
</head>
<body>
${body.join('\n')}
</body>
</html>
`;
}
