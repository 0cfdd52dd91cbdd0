import { parse, type DefaultTreeAdapterMap } from 'parse5';
import pngjs from 'pngjs';
import { describe, expect, it } from 'vitest';
import { ClassificationAccumulator } from '../../../models/eval/classification-metrics.js';
import { detectionMetrics } from '../../../models/eval/detection-metrics.js';
import type { ClassificationEvaluation, DetectionEvaluation, EvalContext } from '../../../models/eval/evaluation.js';
import { renderEvalReport } from '../../../models/eval/report-html.js';
import { regionAround, thumbnail } from '../../../models/eval/thumbnail.js';
import type { RgbImage } from '../../../models/datasets/types.js';

type Node = DefaultTreeAdapterMap['node'];
type Element = DefaultTreeAdapterMap['element'];

const isElement = (n: Node): n is Element => 'tagName' in n;
function* walk(n: Node): Generator<Node> {
  yield n;
  if ('childNodes' in n) for (const c of n.childNodes) yield* walk(c);
  if ('content' in n) yield* walk((n as DefaultTreeAdapterMap['template']).content);
}
const elements = (n: Node): Element[] => [...walk(n)].filter(isElement);
const attr = (e: Element, name: string): string | undefined => e.attrs.find((a) => a.name === name)?.value;
const textOf = (n: Node): string => [...walk(n)].map((x) => ('value' in x && x.nodeName === '#text' ? x.value : '')).join('');

/** Tags must close in order: parse5 repairs bad nesting silently (HTML's void elements bare, SVG's empty ones self-closed). */
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

const EVIL = '<script>alert("x")</script>';
const NAMES = ['bolt', EVIL];
const box = (x: number, y = 20): { x: number; y: number; w: number; h: number } => ({ x, y, w: 20, h: 20 });

function picture(): RgbImage {
  const width = 200;
  const height = 100;
  const data = new Uint8Array(width * height * 3);
  for (let i = 0; i < width * height; i += 1) data.fill((i % width) & 255, 3 * i, 3 * i + 3);
  return { width, height, data };
}

const context: EvalContext = {
  architecture: 'small-detector',
  sha256: 'ab'.repeat(32),
  classNames: NAMES,
  datasetRoot: '/data/<boards>',
  split: 'val',
  inferenceMsMean: 3.2,
  seconds: 1.5,
  notes: [],
  finishedAt: '2026-11-30T12:00:00.000Z',
};

function detectionCase(): DetectionEvaluation {
  const metrics = detectionMetrics(
    [
      {
        truth: [
          { box: box(0), classId: 0 },
          { box: box(50), classId: 1 },
          { box: box(100), classId: 1 },
        ],
        detections: [
          { box: box(0), score: 0.9, classId: 0 }, // right
          { box: box(50), score: 0.8, classId: 0 }, // a <script> called bolt
          { box: box(100), score: 0.7, classId: 1 }, // right
          { box: box(150), score: 0.6, classId: 1 }, // on nothing
        ],
      },
    ],
    NAMES,
    0.5,
  );
  const image = picture();
  const fp = thumbnail(image, [{ box: box(150), kind: 'prediction', strong: true, label: `${EVIL} 0.60` }, { box: box(100), kind: 'truth', strong: false, label: EVIL }], regionAround(image, box(150)));
  const missed = thumbnail(image, [{ box: box(50), kind: 'truth', strong: true, label: EVIL }], regionAround(image, box(50)));
  return { task: 'detect', context, metrics, falsePositives: [{ file: 'a.png', caption: `a.png: ${EVIL} 0.60 on background`, thumbnail: fp }], missed: [{ file: 'a.png', caption: `a.png: ${EVIL} missed`, thumbnail: missed }] };
}

describe('the evaluation report', () => {
  it('is one self-contained, well-formed file: confusion matrix cells, a PR curve per class, names escaped, thumbnails as PNG data URIs', () => {
    const e = detectionCase();
    const html = renderEvalReport(e);
    expect(unbalancedTags(html)).toEqual([]);
    const doc = parse(html);
    const all = elements(doc);
    // Nothing runs and nothing is fetched: no script element, no URL but data: ones.
    expect(all.filter((x) => x.tagName === 'script')).toEqual([]);
    expect(html).not.toMatch(/(src|href)="(?!data:)/);
    expect(html).not.toContain(EVIL);
    expect(textOf(doc)).toContain(EVIL);

    // Rows truth (bolt, <script>, background), columns predicted: the cells read back as counted.
    const table = all.find((x) => attr(x, 'id') === 'confusion-matrix') as Element;
    const cells = elements(table).filter((x) => x.tagName === 'td');
    const matrix = [0, 1, 2].map((t) => [0, 1, 2].map((p) => Number(textOf(cells.find((c) => attr(c, 'data-true') === String(t) && attr(c, 'data-predicted') === String(p)) as Element))));
    expect(matrix).toEqual([
      [1, 0, 0],
      [1, 1, 0],
      [0, 1, 0],
    ]);
    expect(matrix).toEqual(e.metrics.confusion);
    const headers = elements(table).filter((x) => x.tagName === 'th').map(textOf);
    expect(headers).toContain(EVIL);
    expect(headers).toContain('background');

    // One PR curve per class, named by its (escaped, then parsed back) class name.
    const curves = all.filter((x) => x.tagName === 'svg' && (attr(x, 'class') ?? '').includes('pr-curve'));
    expect(curves.map((c) => attr(c, 'data-class'))).toEqual(NAMES);
    for (const c of curves) expect(elements(c).some((x) => x.tagName === 'path' && attr(x, 'class') === 'curve')).toBe(true);

    // The gallery: two thumbnails that decode as PNG of their stated size; labels as text.
    const images = all.filter((x) => x.tagName === 'image');
    expect(images).toHaveLength(2);
    for (const im of images) {
      const href = attr(im, 'href') as string;
      expect(href.startsWith('data:image/png;base64,')).toBe(true);
      const png = pngjs.PNG.sync.read(Buffer.from(href.slice('data:image/png;base64,'.length), 'base64'));
      expect([String(png.width), String(png.height)]).toEqual([attr(im, 'width'), attr(im, 'height')]);
    }
    const labels = all.filter((x) => x.tagName === 'text' && (attr(x, 'class') ?? '').startsWith('label'));
    expect(labels.map(textOf)).toContain(`${EVIL} 0.60`);
    // The by-size table: the 20 x 20 px boxes are all small.
    const bySize = all.find((x) => attr(x, 'id') === 'by-size') as Element;
    expect(elements(bySize).filter((x) => x.tagName === 'tr').map((r) => elements(r).filter((x) => x.tagName === 'td').map(textOf).slice(0, 2))).toEqual([[], ['small', '3'], ['medium', '0'], ['large', '0']]);
    // The JSON line is in the report too.
    expect(textOf(doc)).toContain('"eval":"detect"');
  });

  it('draws the boxes into the thumbnail: the prediction red, the truth green', () => {
    const image = picture();
    const t = thumbnail(image, [
      { box: { x: 10, y: 10, w: 40, h: 40 }, kind: 'truth', strong: false, label: 'a' },
      { box: { x: 100, y: 10, w: 40, h: 40 }, kind: 'prediction', strong: true, label: 'b' },
    ]);
    const png = pngjs.PNG.sync.read(Buffer.from(t.png));
    const at = (x: number, y: number): number[] => {
      const p = (y * png.width + x) * 4;
      return [png.data[p] as number, png.data[p + 1] as number, png.data[p + 2] as number];
    };
    const s = t.width / image.width;
    expect(at(Math.round(30 * s), Math.round(10 * s))).toEqual([46, 125, 50]);
    expect(at(Math.round(120 * s), Math.round(10 * s))).toEqual([198, 40, 40]);
    // Inside a box, the picture itself (the grey ramp).
    const inside = at(Math.round(120 * s), Math.round(30 * s));
    expect(inside[0]).toBe(inside[1]);
  });

  it('reports a classification: accuracy, its confusion matrix and the most confident wrong answers', () => {
    const acc = new ClassificationAccumulator(NAMES);
    acc.add(0, [0.9, 0.1]);
    acc.add(1, [0.3, 0.7]);
    const wrong = acc.add(1, [0.95, 0.05]);
    const image = picture();
    const e: ClassificationEvaluation = {
      task: 'classify',
      context,
      metrics: acc.result(),
      confidentWrong: [{ file: 'x.png', caption: `x.png: a ${EVIL} called bolt (${wrong.confidence})`, thumbnail: thumbnail(image, []) }],
      leastSure: [],
    };
    const html = renderEvalReport(e);
    expect(unbalancedTags(html)).toEqual([]);
    const doc = parse(html);
    const table = elements(doc).find((x) => attr(x, 'id') === 'confusion-matrix') as Element;
    expect(elements(table).filter((x) => x.tagName === 'td').map((c) => Number(textOf(c)))).toEqual([1, 0, 1, 1]);
    expect(textOf(doc)).toContain('"accuracy":0.6667');
    expect(elements(doc).filter((x) => x.tagName === 'script')).toEqual([]);
    expect(elements(doc).filter((x) => x.tagName === 'figure')).toHaveLength(1);
    const curves = elements(doc).filter((x) => x.tagName === 'svg' && (attr(x, 'class') ?? '').includes('pr-curve'));
    expect(curves.map((c) => attr(c, 'data-class'))).toEqual(NAMES);
  });
});
