import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, type DefaultTreeAdapterMap } from 'parse5';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SensorLog } from '../../../../models/datasets/types.js';
import type { AnomalyEvaluation } from '../../../../models/anomaly/csv-training/evaluate-anomaly-model.js';
import { MAX_CURVE_POINTS } from '../../../../models/anomaly/csv-training/window-pr-curve.js';
import { runModelEvalAnomaly, runModelTrainAnomaly, type CommandIo } from '../../../../models/anomaly/csv-training/run-model-anomaly.js';
import { motorLog } from './motor-log.js';

type Node = DefaultTreeAdapterMap['node'];
type Element = DefaultTreeAdapterMap['element'];

const isElement = (n: Node): n is Element => 'tagName' in n;
function* walk(n: Node): Generator<Node> {
  yield n;
  if ('childNodes' in n) for (const c of n.childNodes) yield* walk(c);
}
const elements = (n: Node): Element[] => [...walk(n)].filter(isElement);
const attr = (e: Element, name: string): string | undefined => e.attrs.find((a) => a.name === name)?.value;
const textOf = (n: Node): string => [...walk(n)].map((x) => ('value' in x && x.nodeName === '#text' ? x.value : '')).join('');
const byId = (doc: Node, id: string): Element => {
  const found = elements(doc).find((e) => attr(e, 'id') === id);
  if (found === undefined) throw new Error(`no #${id} in the report`);
  return found;
};
const rowsOf = (table: Element): string[][] => elements(table).filter((e) => e.tagName === 'tr' && elements(e).some((c) => c.tagName === 'td')).map((tr) => elements(tr).filter((c) => c.tagName === 'td').map(textOf));

/** Tags must close in order: parse5 repairs bad nesting silently (HTML's void elements bare, SVG's empty ones self-closed). */
function unbalancedTags(text: string): string[] {
  const stack: string[] = [];
  const problems: string[] = [];
  for (const m of text.matchAll(/<(\/?)([a-zA-Z][\w-]*)[^>]*?(\/?)>/g)) {
    const [, closing, name, selfClosing] = m as unknown as [string, string, string, string];
    if (closing === '') {
      if (selfClosing === '' && name !== 'meta') stack.push(name);
    } else if (stack.pop() !== name) problems.push(`</${name}> at ${m.index}`);
  }
  return [...problems, ...stack.map((t) => `<${t}> never closed`)];
}

const EVIL_CHANNEL = '<script>alert("channel")</script>';
const EVIL_FILE = '<script>alert("file")</script>.csv';
const T0 = Date.UTC(2026, 10, 30);

/** A motor log with its first channel renamed (a name that must stay text in the report). */
const renamed = (log: SensorLog): SensorLog => ({ ...log, channels: [EVIL_CHANNEL, ...log.channels.slice(1)] });

/** Labels set by hand over [fromS, toS) of a 100 Hz log: a label mistake an evaluation meets in a plant's data. */
function relabel(log: SensorLog, fromS: number, toS: number, label: 0 | 1): SensorLog {
  const labels = (log.labels as Uint8Array).slice();
  labels.fill(label, fromS * 100, toS * 100);
  return { ...log, labels };
}

const quiet: CommandIo = { stdout: { write: () => true }, stderr: { write: () => true } };

describe('the anomaly evaluation report (report.html of `edgewise model eval` on an anomaly MODEL_DIR)', () => {
  let root: string;
  let model: string;
  let out = '';
  let html = '';
  let doc: Node;
  let e: AnomalyEvaluation & { summary: Record<string, unknown> };
  const training = renamed(motorLog({ file: 'motor.csv', seconds: 180, rateHz: 100, seed: 1, running: true, t0Ms: T0, faults: [] }));
  // test.csv: a bearing fault labelled (caught), and 10 s of normal running labelled a fault (missed: nothing to see).
  const caughtAndMissed = relabel(renamed(motorLog({ file: 'test.csv', seconds: 120, rateHz: 100, seed: 2, running: true, t0Ms: T0 + 3_600_000, faults: [{ kind: 'bearing-wear', atS: 60, durationS: 30 }] })), 10, 20, 1);
  // EVIL_FILE: a bearing fault nobody labelled (its alert is false).
  const falseAlert = relabel(renamed(motorLog({ file: EVIL_FILE, seconds: 120, rateHz: 100, seed: 3, running: true, t0Ms: T0 + 7_200_000, faults: [{ kind: 'bearing-wear', atS: 40, durationS: 30 }] })), 0, 120, 0);
  const logs: Record<string, SensorLog[]> = { 'motor.csv': [training], 'logs/': [caughtAndMissed, falseAlert] };
  const read = async (path: string): Promise<SensorLog[]> => logs[path] ?? [];

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'edgewise-anomaly-report-'));
    model = join(root, 'model');
    expect(await runModelTrainAnomaly({ data: 'motor.csv', out: model, epochs: 3, seed: 1 }, quiet, read)).toBe(0);
    const io: CommandIo = { stdout: { write: (s: string) => (out += s) }, stderr: { write: (s: string) => (out += s) } };
    expect(await runModelEvalAnomaly({ model, data: 'logs/' }, io, read)).toBe(0);
    html = await readFile(join(model, 'eval', 'report.html'), 'utf8');
    doc = parse(html);
    e = JSON.parse(await readFile(join(model, 'eval', 'metrics.json'), 'utf8')) as typeof e;
  }, 120_000);
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('the command writes report.html and metrics.json under MODEL_DIR/eval and says so before the JSON line', () => {
    const lines = out.trimEnd().split('\n');
    expect(lines.at(-2)).toBe(`report: ${join(model, 'eval', 'report.html')}`);
    expect(JSON.parse(lines.at(-1) as string)).toEqual(e.summary);
    expect(e.summary).toMatchObject({ eval: 'anomaly', faults: 2, faults_detected: 1, false_alerts: 1 });
  });

  it('shows the summary numbers of the evaluation', () => {
    const cards = new Map(elements(doc).filter((x) => attr(x, 'class') === 'card').map((c) => [textOf(elements(c).find((x) => x.tagName === 'span') as Element), textOf(elements(c).find((x) => x.tagName === 'b') as Element)]));
    expect(cards.get('windows')).toBe(String(e.windows));
    expect(cards.get(`precision at ${e.threshold}`)).toBe((e.precision as number).toFixed(3));
    expect(cards.get(`recall at ${e.threshold}`)).toBe((e.recall as number).toFixed(3));
    expect(cards.get('F1')).toBe((e.f1 as number).toFixed(3));
    expect(cards.get('ROC AUC')).toBe((e.auc as number).toFixed(3));
    expect(cards.get('faults caught')).toBe('1/2');
    expect(cards.get('faults missed')).toBe('1');
    expect(cards.get('false alerts')).toBe('1');
    expect(cards.get('NAB score')).toBe((e.nab as number).toFixed(1));
    expect(cards.get('hours of normal running')).toBe(e.normalHours.toFixed(2));
    // 240 s of logs, 40 s of them labelled abnormal (test.csv's 10 s mislabelled and its 30 s fault).
    expect(e.normalHours).toBeCloseTo((240 - 40) / 3600, 4);
  });

  it('the confusion matrix holds the windows at the threshold: normal/abnormal by quiet/alert', () => {
    const m = byId(doc, 'confusion-matrix');
    expect(elements(m).filter((x) => x.tagName === 'th').map(textOf)).toEqual(['true \\ predicted', 'quiet', 'alert', 'normal', 'abnormal']);
    const cells = rowsOf(m).map((r) => r.map(Number));
    const c = e.confusion;
    expect(cells).toEqual([
      [c.trueNegatives, c.falsePositives],
      [c.falseNegatives, c.truePositives],
    ]);
    // Every window is in one cell or left out at a fault's edge; the rows are the labels, the precision and recall the cells'.
    expect(c.trueNegatives + c.falsePositives).toBe(e.normalWindows);
    expect(c.falseNegatives + c.truePositives).toBe(e.abnormalWindows);
    expect(e.normalWindows + e.abnormalWindows + e.mixedWindows).toBe(e.windows);
    expect(e.precision).toBeCloseTo(c.truePositives / (c.truePositives + c.falsePositives), 4);
    expect(e.recall).toBeCloseTo(c.truePositives / (c.truePositives + c.falseNegatives), 4);
    // The false alert's windows are flagged normal ones, the missed 10 s quiet abnormal ones.
    expect(c.falsePositives).toBeGreaterThan(0);
    expect(c.falseNegatives).toBeGreaterThan(0);
  });

  it('draws the PR curve over the window scores, bounded, with the operating point', () => {
    const curve = elements(doc).find((x) => x.tagName === 'svg' && (attr(x, 'class') ?? '').includes('pr-curve')) as Element;
    expect(curve).toBeDefined();
    expect(e.prCurve.length).toBeGreaterThan(1);
    expect(e.prCurve.length).toBeLessThanOrEqual(MAX_CURVE_POINTS);
    expect(e.prCurve.at(-1)?.recall).toBe(1);
    expect(e.ap).toBeGreaterThan(0);
    expect(elements(curve).filter((x) => attr(x, 'class') === 'operating')).toHaveLength(1);
  });

  it('draws one score timeline per log with its labelled faults shaded and its alerts marked', () => {
    const timelines = elements(doc).filter((x) => x.tagName === 'svg' && (attr(x, 'class') ?? '').includes('timeline'));
    expect(timelines.map((t) => attr(t, 'data-file'))).toEqual(['test.csv', EVIL_FILE]);
    const [first, second] = timelines as [Element, Element];
    const spans = (t: Element): string[] => elements(t).filter((x) => attr(x, 'class') === 'fault').map((x) => `${attr(x, 'data-first-row')}-${attr(x, 'data-last-row')}`);
    expect(spans(first)).toEqual(e.faults.filter((f) => f.file === 'test.csv').map((f) => `${f.firstRow}-${f.lastRow}`));
    expect(spans(first)).toHaveLength(2);
    expect(spans(second)).toEqual([]);
    const marks = (t: Element, kind: string): number => elements(t).filter((x) => attr(x, 'class') === `alert-mark ${kind}`).length;
    expect([marks(first, 'caught'), marks(first, 'false'), marks(second, 'caught'), marks(second, 'false')]).toEqual([1, 0, 0, 1]);
    for (const t of timelines) {
      const score = elements(t).filter((x) => attr(x, 'class') === 'score');
      expect(score).toHaveLength(1);
      // One unbroken line: the logs have no gap (buckets shorter than the stride do not break it).
      expect(attr(score[0] as Element, 'd')?.match(/M/g)).toHaveLength(1);
      expect(elements(t).filter((x) => attr(x, 'class') === 'threshold')).toHaveLength(1);
    }
  });

  it('lists the worst mistakes: the missed fault with its peak score, the false alert with its time and channels', () => {
    const missed = e.faults.find((f) => !f.detected);
    expect(rowsOf(byId(doc, 'missed-faults'))).toEqual([['test.csv', `${missed?.firstRow}-${missed?.lastRow}`, new Date(missed?.startMs ?? 0).toISOString(), '10.0 s', (missed?.peakScore ?? 0).toFixed(3), e.alert.raiseThreshold.toFixed(2), (e.alert.raiseThreshold - (missed?.peakScore ?? 0)).toFixed(3)]]);
    const a = e.falseAlerts[0];
    expect(a?.channels).toContain(EVIL_CHANNEL);
    expect(rowsOf(byId(doc, 'false-alerts'))).toEqual([[EVIL_FILE, new Date(a?.startMs ?? 0).toISOString(), a?.channels.join(', '), (a?.peakScore ?? 0).toFixed(3)]]);
  });

  it('escapes every file and channel name: no script, no markup from the data', () => {
    expect(unbalancedTags(html)).toEqual([]);
    expect(elements(doc).filter((x) => x.tagName === 'script')).toEqual([]);
    expect(html).not.toContain('<script>');
    expect(html).toContain('&lt;script&gt;alert(&quot;file&quot;)');
    expect(html).toContain('&lt;script&gt;alert(&quot;channel&quot;)');
  });
});
