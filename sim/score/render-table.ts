/** The scorecard as plain text for a terminal or a log: aligned columns, numbers right-aligned, one section per question. */
import type { GatewayScore, Scorecard } from './scorecard.js';

/** Past this many gateways a section lists those of note (and says how many it left out); the HTML report lists all. */
export const TABLE_MAX_ROWS = 20;

/**
 * The gateways a section lists: all of them for a small run; for a plant, those `notable`
 * says something about first, up to maxRows, and a line for the rest.
 */
function pick(gateways: readonly GatewayScore[], notable: (g: GatewayScore) => boolean, maxRows: number, quiet: string): { rows: GatewayScore[]; note: string | null } {
  if (gateways.length <= maxRows) return { rows: [...gateways], note: null };
  const of = gateways.filter(notable);
  const rows = of.slice(0, maxRows);
  const left = gateways.length - rows.length;
  if (left === 0) return { rows, note: null };
  const more = of.length - rows.length;
  return { rows, note: more === 0 ? `(${left} more gateways, not listed: ${quiet})` : `(${left} more gateways not listed, ${more} of them of note (the HTML report lists every gateway); the others: ${quiet})` };
}

/** Columns padded to their widest cell; the first column left-aligned, the rest right-aligned. */
export function alignColumns(rows: readonly (readonly string[])[]): string[] {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows.map((row) =>
    row
      .map((cell, i) => (i === 0 ? cell.padEnd(widths[i] as number) : cell.padStart(widths[i] as number)))
      .join('  ')
      .trimEnd(),
  );
}

export const fmtInt = (n: number): string => String(Math.round(n));
export const fmtRatio = (x: number): string => x.toFixed(3);
export const fmtMs = (ms: number | null): string => (ms === null ? '-' : ms >= 100 ? ms.toFixed(0) : ms.toFixed(1));
export const fmtSeconds = (ms: number | null): string => (ms === null ? '-' : (ms / 1000).toFixed(1));
const fmtMb = (mb: number | undefined): string => (mb === undefined ? '-' : mb.toFixed(0));
const fmtPercent = (p: number | undefined): string => (p === undefined ? '-' : p.toFixed(1));
const clock = (ms: number, startMs: number): string => `+${((ms - startMs) / 1000).toFixed(1)}s`;

export function renderTable(card: Scorecard, maxRows = TABLE_MAX_ROWS): string {
  const out: string[] = [];
  const t = card.totals;
  out.push(`Scorecard: ${card.scenario.name} (seed ${card.scenario.seed}), ${card.gateways.length} gateways, ${card.seconds.toFixed(1)} s`);

  /** Misses and false alerts listed one by one, at most. */
  const LIST = 10;
  out.push('', 'Records and latency');
  const records = pick(card.gateways, (g) => g.delivery.lost + g.delivery.evicted + g.delivery.duplicated + g.delivery.pending > 0, maxRows, 'nothing lost, evicted, duplicated or pending');
  out.push(
    ...alignColumns([
      ['gateway', 'produced', 'stored', 'delivered', 'pending', 'evicted', 'lost', 'duplicated', 'p50 ms', 'p99 ms', 'RSS MB', 'CPU %'],
      ...[...records.rows.map((g) => ({ name: g.gatewayId, d: g.delivery, l: g.latency, r: g.resources })), { name: 'total', d: t.delivery, l: t.latency, r: t.resources }].map(({ name, d, l, r }) => [
        name,
        fmtInt(d.produced),
        fmtInt(d.stored),
        fmtInt(d.delivered),
        fmtInt(d.pending),
        fmtInt(d.evicted),
        fmtInt(d.lost),
        fmtInt(d.duplicated),
        fmtMs(l.p50Ms),
        fmtMs(l.p99Ms),
        fmtMb(r?.rssMaxMb),
        fmtPercent(r?.cpuMeanPercent),
      ]),
    ]),
  );
  if (records.note !== null) out.push(records.note);
  out.push('(RSS: the largest sample; CPU: the mean, % of one core; total: mean over gateways, largest RSS)');

  const withSamples = card.gateways.filter((g) => g.delivery.samples !== null);
  if (withSamples.length > 0) {
    out.push('', 'MCU samples (missing includes samples in evicted telemetry)');
    const samples = pick(withSamples, (g) => (g.delivery.samples?.missing ?? 0) + (g.delivery.samples?.duplicated ?? 0) > 0, maxRows, 'no sample missing or stored twice');
    const rows = [...samples.rows.map((g) => [g.gatewayId, g.delivery.samples] as const), ['total', t.delivery.samples] as const];
    out.push(...alignColumns([['gateway', 'produced', 'delivered', 'missing', 'duplicated'], ...rows.map(([n, s]) => [n, fmtInt(s?.produced ?? 0), fmtInt(s?.delivered ?? 0), fmtInt(s?.missing ?? 0), fmtInt(s?.duplicated ?? 0)])]));
    if (samples.note !== null) out.push(samples.note);
  }

  out.push('', `Anomaly alerts against injected sensor faults (grace ${fmtSeconds(card.options.alertGraceMs)} s)`);
  const alerts = pick(card.gateways, (g) => g.alerts.faults + g.alerts.alerts > 0, maxRows, 'no fault injected, no alert raised');
  out.push(
    ...alignColumns([
      ['gateway', 'faults', 'detected', 'alerts', 'true', 'precision', 'recall', 'mean delay s', 'max delay s'],
      ...[...alerts.rows.map((g) => [g.gatewayId, g.alerts] as const), ['total', t.alerts] as const].map(([n, a]) => [
        n,
        fmtInt(a.faults),
        fmtInt(a.detected),
        fmtInt(a.alerts),
        fmtInt(a.trueAlerts),
        fmtRatio(a.precision),
        fmtRatio(a.recall),
        fmtSeconds(a.meanDelayMs),
        fmtSeconds(a.maxDelayMs),
      ]),
    ]),
  );
  if (alerts.note !== null) out.push(alerts.note);
  const missed = t.alerts.outcomes.filter((x) => x.delayMs === null);
  for (const m of missed.slice(0, LIST)) out.push(`  missed: ${m.fault.gatewayId} ${m.fault.kind} ${clock(m.fault.startMs, card.startedMs)} to ${clock(m.fault.endMs, card.startedMs)}`);
  if (missed.length > LIST) out.push(`  ... and ${missed.length - LIST} more missed faults`);
  for (const a of t.alerts.falseAlerts.slice(0, LIST)) out.push(`  false alert: ${a.gatewayId} ${a.stream} #${a.alertId} at ${clock(a.startMs, card.startedMs)} (${a.channels.join(', ') || 'no channel'})`);
  if (t.alerts.falseAlerts.length > LIST) out.push(`  ... and ${t.alerts.falseAlerts.length - LIST} more false alerts`);

  out.push('', `Vision defect events against defective parts (tolerance ${fmtSeconds(card.options.defectToleranceMs)} s)`);
  const withCamera = card.gateways.filter((g) => g.defects.parts + g.defects.events > 0);
  const defects = pick(withCamera, (g) => g.defects.matched < Math.max(g.defects.parts, g.defects.events), maxRows, 'every event matched to a part');
  out.push(
    ...alignColumns([
      ['gateway', 'defective parts', 'events', 'matched', 'recall', 'precision'],
      ...[...defects.rows.map((g) => [g.gatewayId, g.defects] as const), ['total', t.defects] as const].map(([n, d]) => [
        n,
        fmtInt(d.parts),
        fmtInt(d.events),
        fmtInt(d.matched),
        fmtRatio(d.recall),
        fmtRatio(d.precision),
      ]),
    ]),
  );

  if (defects.note !== null) out.push(defects.note);

  out.push('', `Rollouts: ${card.rollouts.length === 0 ? 'none in this scenario' : card.rolloutOk ? 'ok' : 'NOT OK'}`);
  if (card.rollouts.length > 0) {
    out.push(
      ...alignColumns([
        ['release', 'rollout', 'state', 'gate failed', 'waves (active/total)', 'ok'],
        ...card.rollouts.map((r) => [
          r.release,
          r.rolloutId,
          r.state,
          r.gateFailedAtWave === null ? '-' : `wave ${r.gateFailedAtWave + 1}`,
          r.waves.map((w) => `${w.active}/${w.total}`).join(' ') || '-',
          r.ok ? 'yes' : 'NO',
        ]),
      ]),
    );
    for (const r of card.rollouts) for (const p of r.problems) out.push(`  ${r.release} release: ${p}`);
  }

  const l = card.learning;
  out.push('', `Learning: ${l === null ? 'none in this scenario' : card.learningOk ? 'ok' : 'NOT OK'}`);
  if (l !== null) {
    out.push(
      ...alignColumns([
        ['round', 'outcome', 'participants', 'rejected', 'mean validation loss'],
        ...l.rounds.map((r) => [String(r.round), r.outcome, fmtInt(r.participants), fmtInt(Object.values(r.rejected).reduce((a, b) => a + b, 0)), r.meanValidationLoss === null ? '-' : r.meanValidationLoss.toPrecision(4)]),
      ]),
    );
    out.push(`  ${l.rounds.length} of ${l.roundsExpected} rounds, ${l.rejected} ${l.rejected === 1 ? 'update' : 'updates'} rejected, Byzantine updates: ${l.byzantine.excluded} excluded, ${l.byzantine.outvoted} outvoted (median, trimmed mean), ${l.byzantine.used} used${l.byzantine.unknown > 0 ? `, ${l.byzantine.unknown} not recorded` : ''}`);
    for (const p of l.problems) out.push(`  ${p}`);
  }
  return out.join('\n');
}
