/**
 * The scorecard as one self-contained HTML file: inline CSS, inline SVG plots, no script and
 * no external URL, so it can be mailed, archived with a CI run, or opened on a plant laptop
 * with no network. Everything the table says is here too, plus the plots.
 */
import type { Scorecard } from './scorecard.js';
import { fmtInt, fmtMs, fmtRatio, fmtSeconds } from './render-table.js';
import { htmlPage } from '../../models/eval/report-style.js';
import { escapeXml as esc, histogramSvg, MAX_TIMELINE_ROWS, rolloutSvg, timelineSvg } from './svg-plots.js';
import { scorecardLine } from './scorecard.js';

const CSS = `
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;color:#1d2430;margin:24px auto;max-width:960px;padding:0 16px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #d8dde6;padding-bottom:4px}
.sub{color:#5b6575;margin:0 0 16px}
.cards{display:flex;flex-wrap:wrap;gap:8px}.card{border:1px solid #d8dde6;border-radius:6px;padding:8px 12px;min-width:110px}
.card b{display:block;font-size:20px}.card span{color:#5b6575;font-size:12px}.card.bad{border-color:#c62828;background:#fdecea}.card.good{border-color:#2e7d32;background:#edf7ee}
table{border-collapse:collapse;width:100%;font-variant-numeric:tabular-nums}th,td{padding:3px 8px;border-bottom:1px solid #eceff4;text-align:right}
th:first-child,td:first-child{text-align:left}th{background:#f5f7fa;font-weight:600}tr.total td{font-weight:600;border-top:2px solid #c9d0db}
td.bad{color:#c62828;font-weight:600}
ul{margin:6px 0;padding-left:20px}code{font-size:12px;background:#f5f7fa;padding:2px 4px;border-radius:3px;word-break:break-all}
svg.plot{max-width:100%;height:auto;display:block;margin:8px 0}
.grid{stroke:#eceff4}.axis{stroke:#8a94a6}.row-line{stroke:#f0f2f5}.tick{font-size:11px;fill:#5b6575}.row-label{font-size:12px;fill:#1d2430}
.fault{fill:#e53935;fill-opacity:.35;stroke:#e53935}.fault.missed{fill:none;stroke-dasharray:3 2}
.alert{fill:#1e63c4}.alert.false{fill:#f57c00}.disruption{fill:#9aa3b2;fill-opacity:.35}
.defect{stroke:#6a1b9a;stroke-width:1.5}.defect.false{stroke:#f57c00}
.bar{fill:#1e63c4}.marker{stroke:#c62828;stroke-dasharray:4 3}
.active{fill:#2e7d32}.failed{fill:#c62828}.reverted{fill:#8a94a6}.unreached{fill:#eceff4}
`;

const cell = (text: string, bad = false): string => `<td${bad ? ' class="bad"' : ''}>${esc(text)}</td>`;
const row = (cells: string[], cls = ''): string => `<tr${cls === '' ? '' : ` class="${cls}"`}>${cells.join('')}</tr>`;
const head = (names: string[]): string => `<thead><tr>${names.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead>`;
const statCard = (label: string, value: string, state: 'good' | 'bad' | '' = ''): string => `<div class="card${state === '' ? '' : ` ${state}`}"><b>${esc(value)}</b><span>${esc(label)}</span></div>`;
const clock = (ms: number, startMs: number): string => `+${((ms - startMs) / 1000).toFixed(1)} s`;

export function renderHtml(c: Scorecard): string {
  const t = c.totals;
  const title = `edgewise sim: ${c.scenario.name}`;
  const body: string[] = [];
  body.push(`<h1>${esc(title)}</h1>`);
  body.push(`<p class="sub">${esc(c.scenario.description)} Seed ${c.scenario.seed}, ${c.gateways.length} gateways, ${c.seconds.toFixed(1)} s, started ${esc(new Date(c.startedMs).toISOString())}.</p>`);

  body.push('<div class="cards">');
  body.push(statCard('records lost', fmtInt(t.delivery.lost), t.delivery.lost === 0 ? 'good' : 'bad'));
  body.push(statCard('duplicated', fmtInt(t.delivery.duplicated)));
  body.push(statCard('delivered', fmtInt(t.delivery.delivered)));
  body.push(statCard('evicted (disk budget)', fmtInt(t.delivery.evicted)));
  body.push(statCard('alert precision', fmtRatio(t.alerts.precision)));
  body.push(statCard('alert recall', fmtRatio(t.alerts.recall)));
  body.push(statCard('defect recall', fmtRatio(t.defects.recall)));
  body.push(statCard('latency p50 / p99 ms', `${fmtMs(t.latency.p50Ms)} / ${fmtMs(t.latency.p99Ms)}`));
  body.push(statCard('rollouts', c.rollouts.length === 0 ? 'none' : c.rolloutOk ? 'ok' : 'not ok', c.rollouts.length === 0 ? '' : c.rolloutOk ? 'good' : 'bad'));
  body.push(statCard('learning', c.learning === null ? 'none' : c.learningOk ? 'ok' : 'not ok', c.learning === null ? '' : c.learningOk ? 'good' : 'bad'));
  body.push('</div>');

  body.push('<h2>Faults and alerts over time</h2>');
  const shown = c.gateways.filter((g) => g.timeline.faults.length + g.timeline.alerts.length + g.timeline.disruptions.length + g.timeline.defectEvents.length > 0);
  const rows = shown.length === 0 ? c.gateways : shown;
  if (rows.length > MAX_TIMELINE_ROWS) body.push(`<p class="sub">The first ${MAX_TIMELINE_ROWS} of ${rows.length} gateways with faults, alerts or events.</p>`);
  body.push(timelineSvg(rows, { startMs: c.startedMs, endMs: c.endedMs }));

  body.push('<h2>Records and latency</h2>');
  body.push('<table>');
  body.push(head(['gateway', 'produced', 'stored', 'delivered', 'pending', 'evicted', 'lost', 'duplicated', 'p50 ms', 'p99 ms', 'RSS MB (max)', 'CPU % (mean)']));
  const recordRows = [...c.gateways.map((g) => ({ name: g.gatewayId, d: g.delivery, l: g.latency, r: g.resources, cls: '' })), { name: 'total', d: t.delivery, l: t.latency, r: t.resources, cls: 'total' }];
  body.push('<tbody>');
  for (const { name, d, l, r, cls } of recordRows) {
    body.push(
      row(
        [
          cell(name),
          cell(fmtInt(d.produced)),
          cell(fmtInt(d.stored)),
          cell(fmtInt(d.delivered)),
          cell(fmtInt(d.pending)),
          cell(fmtInt(d.evicted)),
          cell(fmtInt(d.lost), d.lost > 0),
          cell(fmtInt(d.duplicated)),
          cell(fmtMs(l.p50Ms)),
          cell(fmtMs(l.p99Ms)),
          cell(r === null ? '-' : r.rssMaxMb.toFixed(0)),
          cell(r === null ? '-' : r.cpuMeanPercent.toFixed(1)),
        ],
        cls,
      ),
    );
  }
  body.push('</tbody></table>');
  body.push(histogramSvg(c.latencyHistogram, t.latency.p50Ms, t.latency.p99Ms));

  body.push('<h2>Anomaly alerts against injected sensor faults</h2>');
  body.push(`<p class="sub">An alert is true when it starts inside a fault window of its gateway, or up to ${fmtSeconds(c.options.alertGraceMs)} s after it ends; a fault is detected only by an alert that starts while it is on.</p>`);
  body.push('<table>');
  body.push(head(['gateway', 'faults', 'detected', 'alerts', 'true', 'precision', 'recall', 'mean delay s', 'max delay s']));
  body.push('<tbody>');
  for (const [name, a, cls] of [...c.gateways.map((g) => [g.gatewayId, g.alerts, ''] as const), ['total', t.alerts, 'total'] as const]) {
    body.push(
      row(
        [cell(name), cell(fmtInt(a.faults)), cell(fmtInt(a.detected)), cell(fmtInt(a.alerts)), cell(fmtInt(a.trueAlerts)), cell(fmtRatio(a.precision)), cell(fmtRatio(a.recall)), cell(fmtSeconds(a.meanDelayMs)), cell(fmtSeconds(a.maxDelayMs))],
        cls,
      ),
    );
  }
  body.push('</tbody></table>');
  const missed = t.alerts.outcomes.filter((o) => o.delayMs === null);
  if (missed.length + t.alerts.falseAlerts.length > 0) {
    body.push('<ul>');
    for (const m of missed) body.push(`<li>missed: ${esc(m.fault.gatewayId)} ${esc(m.fault.kind)} from ${clock(m.fault.startMs, c.startedMs)} to ${clock(m.fault.endMs, c.startedMs)}</li>`);
    for (const a of t.alerts.falseAlerts) body.push(`<li>false alert: ${esc(a.gatewayId)} ${esc(a.stream)} #${a.alertId} at ${clock(a.startMs, c.startedMs)} (${esc(a.channels.join(', ') || 'no channel')})</li>`);
    body.push('</ul>');
  }

  body.push('<h2>Vision defect events against defective parts</h2>');
  body.push('<table>');
  body.push(head(['gateway', 'defective parts', 'events', 'matched', 'recall', 'precision']));
  body.push('<tbody>');
  for (const [name, d, cls] of [...c.gateways.filter((g) => g.defects.parts + g.defects.events > 0).map((g) => [g.gatewayId, g.defects, ''] as const), ['total', t.defects, 'total'] as const]) {
    body.push(row([cell(name), cell(fmtInt(d.parts)), cell(fmtInt(d.events)), cell(fmtInt(d.matched)), cell(fmtRatio(d.recall)), cell(fmtRatio(d.precision))], cls));
  }
  body.push('</tbody></table>');

  body.push('<h2>Rollouts</h2>');
  if (c.rollouts.length === 0) body.push('<p class="sub">None in this scenario.</p>');
  for (const r of c.rollouts) {
    body.push(`<p><b>${esc(r.release)} release</b> <code>${esc(r.rolloutId)}</code>: ${esc(r.state)}${r.gateFailedAtWave === null ? '' : `, gate failed at wave ${r.gateFailedAtWave + 1}`}: ${r.ok ? 'as expected' : '<b>not as expected</b>'}</p>`);
    if (r.problems.length > 0) body.push(`<ul>${r.problems.map((p) => `<li>${esc(p)}</li>`).join('')}</ul>`);
    body.push(rolloutSvg(r));
  }

  body.push('<h2>Learning</h2>');
  const l = c.learning;
  if (l === null) body.push('<p class="sub">None in this scenario.</p>');
  else {
    body.push(`<p>${l.rounds.length} of ${l.roundsExpected} rounds, ${l.rejected} ${l.rejected === 1 ? 'update' : 'updates'} rejected, Byzantine updates: ${l.byzantine.excluded} excluded, ${l.byzantine.outvoted} outvoted (median, trimmed mean), ${l.byzantine.used} used${l.byzantine.unknown > 0 ? `, ${l.byzantine.unknown} not recorded` : ''}: ${l.ok ? 'as expected' : '<b>not as expected</b>'}</p>`);
    if (l.problems.length > 0) body.push(`<ul>${l.problems.map((p) => `<li>${esc(p)}</li>`).join('')}</ul>`);
    body.push('<table>');
    body.push(head(['round', 'outcome', 'participants', 'rejected', 'mean validation loss']));
    body.push('<tbody>');
    for (const r of l.rounds) {
      const rejected = Object.values(r.rejected).reduce((a, b) => a + b, 0);
      body.push(row([cell(String(r.round)), cell(r.outcome, r.outcome !== 'model'), cell(fmtInt(r.participants)), cell(fmtInt(rejected)), cell(r.meanValidationLoss === null ? '-' : r.meanValidationLoss.toPrecision(4))]));
    }
    body.push('</tbody></table>');
  }

  body.push('<h2>The scorecard line</h2>');
  body.push(`<p><code>${esc(scorecardLine(c))}</code></p>`);

  return htmlPage(title, body, CSS);
}
