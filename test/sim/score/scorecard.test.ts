import { readFile } from 'node:fs/promises';
import { parse, type DefaultTreeAdapterMap } from 'parse5';
import { afterEach, describe, expect, it } from 'vitest';
import { quantile } from '../../../sim/score/latency.js';
import { renderHtml } from '../../../sim/score/render-html.js';
import { renderTable } from '../../../sim/score/render-table.js';
import { score, scorecardLine } from '../../../sim/score/scorecard.js';
import { writeScorecard } from '../../../sim/score/write-report.js';
import { makeTempDir } from '../../support/temp-dir.js';
import { scenario, syntheticRun } from './synthetic-run.js';

type Node = DefaultTreeAdapterMap['node'];
type Element = DefaultTreeAdapterMap['element'];

const isElement = (n: Node): n is Element => 'tagName' in n;
function* walk(n: Node): Generator<Node> {
  yield n;
  if ('childNodes' in n) for (const c of n.childNodes) yield* walk(c);
}
/**
 * parse5 reports tokenizer errors only and repairs bad nesting silently, so the tags are also
 * checked to close in order (the report writes HTML's void elements bare and SVG's empty ones self-closed).
 */
function unbalancedTags(html: string): string[] {
  const VOID = new Set(['meta', 'br', 'hr', 'img', 'input', 'link']);
  const stack: string[] = [];
  const problems: string[] = [];
  for (const m of html.matchAll(/<(\/?)([a-zA-Z][\w-]*)[^>]*?(\/?)>/g)) {
    const [, closing, name, selfClosing] = m as unknown as [string, string, string, string];
    if (closing === '') {
      if (selfClosing === '' && !VOID.has(name)) stack.push(name);
    } else if (stack.pop() !== name) problems.push(`</${name}> at ${m.index}`);
  }
  return [...problems, ...stack.map((t) => `<${t}> never closed`)];
}

const textOf = (n: Node): string => [...walk(n)].map((x) => ('value' in x && x.nodeName === '#text' ? x.value : '')).join('');

describe('score', () => {
  it('counts every number of a hand-made run as it was put in, per gateway and in total', () => {
    const { truth, obs } = syntheticRun();
    const card = score(truth, obs, scenario);
    const by = Object.fromEntries(card.gateways.map((g) => [g.gatewayId, g]));
    expect(card.gateways.map((g) => g.gatewayId)).toEqual(['press-1', 'press-2', 'cam-1']);
    expect(by['press-1']?.delivery).toMatchObject({ produced: 150, delivered: 150, duplicated: 1, lost: 0, evicted: 0, samples: { produced: 1500, delivered: 1500, missing: 0, duplicated: 0 } });
    expect(by['press-2']?.delivery).toMatchObject({ produced: 200, stored: 160, delivered: 160, evicted: 40, lost: 0 });
    expect(by['cam-1']?.delivery).toMatchObject({ produced: 30, delivered: 29, lost: 1 });
    expect(card.totals.delivery).toMatchObject({ produced: 380, delivered: 339, duplicated: 1, evicted: 40, lost: 1 });

    expect(by['press-1']?.alerts).toMatchObject({ alerts: 3, trueAlerts: 2, faults: 2, detected: 2, meanDelayMs: 3000, maxDelayMs: 4000 });
    expect(by['press-2']?.alerts).toMatchObject({ faults: 1, detected: 0, recall: 0, precision: 1 });
    expect(card.totals.alerts).toMatchObject({ alerts: 3, trueAlerts: 2, faults: 3, detected: 2 });
    expect(card.totals.alerts.falseAlerts.map((a) => a.alertId)).toEqual([3]);
    expect(card.totals.defects).toMatchObject({ parts: 5, events: 5, matched: 4, recall: 0.8, precision: 0.8 });

    const all = obs.gateways.flatMap((g) => g.latency.values);
    expect(card.totals.latency).toMatchObject({ count: 339, p50Ms: quantile(all, 0.5), p99Ms: quantile(all, 0.99), maxMs: 119 });
    expect(by['cam-1']?.resources).toMatchObject({ samples: 3, rssMaxMb: 152, cpuMeanPercent: 11 });

    expect(card.rollouts.map((r) => [r.release, r.ok])).toEqual([['bad', true], ['good', true]]);
    expect(card.rolloutOk).toBe(true);
    expect(card.learning).toMatchObject({ firstLoss: 0.042, lastLoss: 0.031, rejected: 1, byzantine: { excluded: 2, outvoted: 0, used: 0, unknown: 0 } });
    expect(card.learningOk).toBe(true);
    expect(card.seconds).toBe(95);
    // The timeline: the kill and the outage on press-1, the missed fault on press-2 drawn hollow.
    expect(by['press-1']?.timeline.disruptions.map((d) => d.kind)).toEqual(['kill', 'broker-outage']);
    expect(by['press-2']?.timeline.faults).toMatchObject([{ kind: 'drift', detected: false }]);
  });

  it('prints the issue\'s JSON line, keys in order', () => {
    const { truth, obs } = syntheticRun();
    expect(scorecardLine(score(truth, obs, scenario))).toBe(
      '{"bench":"sim","lost":1,"duplicated":1,"delivered":339,"alert_precision":0.667,"alert_recall":0.667,"defect_recall":0.8,"rollout_ok":true,"learning_ok":true,"seconds":95}',
    );
  });

  it('says rollout_ok false when the bad release got past its gate, and learning_ok false when a Byzantine update was used', () => {
    const { truth, obs } = syntheticRun();
    const leaked = {
      ...obs,
      rollouts: obs.rollouts.map((r) => (r.rolloutId === 'ro-000000000001' ? { ...r, waves: [r.waves[0]!, { ...r.waves[1]!, notified: 2, active: 2 }] } : r)),
      learning: obs.learning.map((r) => (r.round === 2 ? { ...r, participantIds: ['cam-1', 'press-1', 'press-2'], rule: 'fedavg' } : r)),
    };
    const card = score(truth, leaked, scenario);
    expect(card.rolloutOk).toBe(false);
    expect(card.rollouts[0]?.problems).toEqual(['wave 2: 2 gateways told of the bad release past its gate']);
    expect(card.learningOk).toBe(false);
    expect(scorecardLine(card)).toContain('"rollout_ok":false,"learning_ok":false');
  });

  it('scores a gateway the truth names but nothing was seen from: its faults are missed', () => {
    const { truth, obs } = syntheticRun();
    const card = score(truth, { ...obs, gateways: obs.gateways.filter((g) => g.gatewayId !== 'press-2') }, scenario);
    expect(card.gateways.find((g) => g.gatewayId === 'press-2')?.alerts).toMatchObject({ faults: 1, detected: 0 });
    expect(card.totals.alerts.recall).toBeCloseTo(2 / 3, 9);
  });
});

describe('renderTable', () => {
  it('lines each table up in columns and shows the numbers, the misses and the false alerts', () => {
    const { truth, obs } = syntheticRun();
    const text = renderTable(score(truth, obs, scenario));
    const lines = text.split('\n');
    const head = lines.findIndex((l) => l.startsWith('gateway') && l.includes('produced'));
    const block = lines.slice(head, head + 5);
    expect(new Set(block.map((l) => l.length)).size).toBe(1);
    expect(block[4]).toMatch(/^total\s+380\s+340\s+339\s+0\s+40\s+1\s+1\s/);
    expect(text).toContain('missed: press-2 drift +20.0s to +40.0s');
    expect(text).toContain('false alert: press-1 motor-1.alerts #3 at +80.0s');
    expect(text).toContain('Rollouts: ok');
    expect(text).toContain('Learning: ok');
    expect(text).toMatch(/total\s+5\s+5\s+4\s+0\.800\s+0\.800/);
  });
});

describe('renderHtml', () => {
  let remove: (() => Promise<void>) | undefined;
  afterEach(async () => {
    await remove?.();
    remove = undefined;
  });

  it('writes one well-formed, self-contained page with the plots and the numbers', async () => {
    const { truth, obs } = syntheticRun();
    const card = score(truth, obs, scenario);
    const dir = await makeTempDir('edgewise-score-');
    remove = dir.remove;
    const { jsonPath, htmlPath } = await writeScorecard(dir.path, card);
    expect(JSON.parse(await readFile(jsonPath, 'utf8'))).toEqual(JSON.parse(JSON.stringify(card)));
    const html = await readFile(htmlPath, 'utf8');
    expect(html).toBe(renderHtml(card));

    const errors: string[] = [];
    const doc = parse(html, { onParseError: (e) => errors.push(`${e.code} at line ${e.startLine}`) });
    expect(errors).toEqual([]);
    expect(unbalancedTags(html)).toEqual([]);
    expect(unbalancedTags('<p><b>x</p>')).toEqual(['</p> at 7', '<p> never closed']);
    const elements = [...walk(doc)].filter(isElement);
    // Self-contained: no script, no stylesheet link, nothing fetched.
    expect(elements.filter((e) => ['script', 'link', 'img', 'iframe'].includes(e.tagName))).toEqual([]);
    for (const e of elements) for (const a of e.attrs) expect(['src', 'href'].includes(a.name), `${e.tagName} ${a.name}`).toBe(false);
    expect(html.replaceAll('http://www.w3.org/2000/svg', '')).not.toMatch(/https?:/);
    // The timeline, the latency histogram and one plot per rollout.
    const svgs = elements.filter((e) => e.tagName === 'svg');
    expect(svgs.map((s) => s.attrs.find((a) => a.name === 'aria-label')?.value)).toEqual([
      'Timeline of injected faults and raised alerts per gateway',
      'End-to-end latency distribution',
      'Rollout ro-000000000001 waves',
      'Rollout ro-000000000002 waves',
    ]);
    // Timeline: 3 faults (one drawn as missed), 3 alerts (one false), 4 disruption bands.
    const classes = elements.filter((e) => e.tagName === 'rect').map((e) => e.attrs.find((a) => a.name === 'class')?.value);
    expect(classes.filter((c) => c === 'fault').length).toBe(2 + 1); // two drawn, one in the legend
    expect(classes.filter((c) => c === 'fault missed').length).toBe(1 + 1);
    expect(classes.filter((c) => c === 'alert false').length).toBe(1 + 1);
    expect(classes.filter((c) => c === 'disruption').length).toBe(5 + 1); // kill, full disk, outage on each of three gateways

    const totalRows = elements.filter((e) => e.tagName === 'tr' && e.attrs.some((a) => a.name === 'class' && a.value === 'total'));
    const cells = totalRows.map((r) => r.childNodes.filter(isElement).map((td) => textOf(td)));
    expect(cells[0]?.slice(0, 8)).toEqual(['total', '380', '340', '339', '0', '40', '1', '1']);
    expect(cells[1]).toEqual(['total', '3', '2', '3', '2', '0.667', '0.667', '3.0', '4.0']);
    expect(cells[2]).toEqual(['total', '5', '5', '4', '0.800', '0.800']);
    expect(textOf(doc)).toContain(scorecardLine(card));
  });

  it('escapes names that come from outside (gateway ids, streams, the scenario)', () => {
    const { truth, obs } = syntheticRun();
    const card = score(truth, obs, { ...scenario, name: '<b>x</b> & "y"', description: '<script>alert(1)</script>' });
    const html = renderHtml(card);
    expect(html).not.toContain('<script>');
    const errors: string[] = [];
    parse(html, { onParseError: (e) => errors.push(e.code) });
    expect(errors).toEqual([]);
    expect(html).toContain('&lt;b&gt;x&lt;/b&gt; &amp; &quot;y&quot;');
  });
});

describe('renderTable for a plant', () => {
  it('lists the gateways of note and says how many quiet ones it left out', () => {
    const { truth, obs } = syntheticRun();
    const quietIds = Array.from({ length: 40 }, (_, i) => `line-${i + 1}`);
    const quiet = quietIds.map((gatewayId) => ({ ...(obs.gateways[0] as (typeof obs.gateways)[number]), gatewayId, delivery: { epochs: { [`${gatewayId}.1`]: [[0, 10] as const] }, duplicates: 0, foreignIds: 0, samples: {}, duplicateSamples: 0 }, counters: { appended: 10, evicted: 0, pendingAtEnd: 0 }, alerts: [] }));
    const card = score({ ...truth, gatewayIds: [...truth.gatewayIds, ...quietIds] }, { ...obs, gateways: [...obs.gateways, ...quiet] }, scenario);
    const text = renderTable(card, 20);
    // press-1 (a duplicate), press-2 (evictions) and cam-1 (a lost record) are listed; the 40 quiet ones are not.
    expect(text).toContain('(40 more gateways, not listed: nothing lost, evicted, duplicated or pending)');
    expect(text).toContain('(41 more gateways, not listed: no fault injected, no alert raised)');
    expect(text).not.toMatch(/^line-1 /m);
    expect(text).toMatch(/^total\s+780\s+740\s+739\s/m);
  });
});
