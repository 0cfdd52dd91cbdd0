import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { detectionMetrics, IOU_THRESHOLDS, MAX_CURVE_POINTS, SIZE_RANGES, type EvalDetection, type EvalTruth } from '../../../models/eval/detection-metrics.js';
import { iou, type Box } from '../../../models/vision/geometry.js';
import { classMetrics } from '../../../models/vision/metrics.js';

const box = (x: number, w = 10): Box => ({ x, y: 0, w, h: 10 });
const NAMES = ['a', 'b', 'c'];

interface Img {
  truth: EvalTruth[];
  detections: EvalDetection[];
}

const boxArb = fc.record({ x: fc.double({ min: 0, max: 200, noNaN: true }), y: fc.double({ min: 0, max: 200, noNaN: true }), w: fc.double({ min: 1, max: 130, noNaN: true }), h: fc.double({ min: 1, max: 130, noNaN: true }) });
const truthArb = (ignore: boolean): fc.Arbitrary<EvalTruth> => fc.record({ box: boxArb, classId: fc.integer({ min: 0, max: 2 }), ignore: ignore ? fc.boolean() : fc.constant(false) });
/** A detection near a truth box (jittered) or anywhere; its score is filled in later (distinct over the dataset). */
const imageArb = (ignore: boolean): fc.Arbitrary<Img> =>
  fc.array(truthArb(ignore), { maxLength: 5 }).chain((truth) =>
    fc
      .array(
        fc.oneof(
          fc.record({ box: boxArb, classId: fc.integer({ min: 0, max: 2 }) }),
          fc.record({ k: fc.nat(), dx: fc.double({ min: -5, max: 5, noNaN: true }), dy: fc.double({ min: -5, max: 5, noNaN: true }), sameClass: fc.boolean() }).map(({ k, dx, dy, sameClass }) => {
            const t = truth[k % Math.max(1, truth.length)];
            return t === undefined ? { box: box(0), classId: 0 } : { box: { ...t.box, x: t.box.x + dx, y: t.box.y + dy }, classId: sameClass ? t.classId : (t.classId + 1) % 3 };
          }),
        ),
        { maxLength: 8 },
      )
      .map((dets) => ({ truth, detections: dets.map((d) => ({ ...d, score: 0 })) })),
  );
/** Images with every detection's score distinct (ties would make the ranking depend on the order given). */
const datasetArb = (ignore = true): fc.Arbitrary<Img[]> =>
  fc.tuple(fc.array(imageArb(ignore), { minLength: 1, maxLength: 6 }), fc.integer({ min: 1, max: 1_000_000 })).map(([images, seed]) => {
    let n = 0;
    return images.map((im) => ({ truth: im.truth, detections: im.detections.map((d) => ({ ...d, score: ((seed * 7919 + n++ * 104_729) % 1_000_003) / 1_000_003 + 1e-9 * n })) }));
  });

const shuffle = <T>(xs: readonly T[], seed: number): T[] => {
  const out = [...xs];
  let s = seed;
  for (let i = out.length - 1; i > 0; i -= 1) {
    s = (s * 1_103_515_245 + 12_345) % 2_147_483_648;
    const j = s % (i + 1);
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
};

/**
 * pycocotools' evaluateImg and accumulate, transliterated loop for loop (truths sorted with the
 * ignored ones last, the `break` when an ignored truth would replace a counted one), with the
 * all-point envelope in place of its 101 recall samples: an oracle written apart from the code
 * under test.
 */
function cocoReferenceAp(images: readonly Img[], classId: number, iouThreshold: number, areaRange: readonly [number, number] = [0, Number.POSITIVE_INFINITY]): number {
  const ranked: { score: number; tp: boolean }[] = [];
  let npig = 0;
  for (const im of images) {
    const outside = (b: Box): boolean => b.w * b.h < areaRange[0] || b.w * b.h > areaRange[1];
    const ig = (t: EvalTruth): boolean => t.ignore === true || outside(t.box);
    const gt = im.truth.filter((t) => t.classId === classId).sort((a, b) => Number(ig(a)) - Number(ig(b)));
    const gtIg = gt.map(ig);
    npig += gtIg.filter((g) => !g).length;
    const dt = im.detections.filter((d) => d.classId === classId).sort((a, b) => b.score - a.score);
    const gtm = new Array<boolean>(gt.length).fill(false);
    for (const d of dt) {
      let thr = Math.min(iouThreshold, 1 - 1e-10);
      let m = -1;
      for (let g = 0; g < gt.length; g += 1) {
        if (gtm[g] === true) continue;
        if (m > -1 && gtIg[m] === false && gtIg[g] === true) break;
        const v = iou(d.box, (gt[g] as EvalTruth).box);
        if (v < thr) continue;
        thr = v;
        m = g;
      }
      if (m === -1) {
        if (!outside(d.box)) ranked.push({ score: d.score, tp: false });
        continue;
      }
      gtm[m] = true;
      if (gtIg[m] === false) ranked.push({ score: d.score, tp: true });
    }
  }
  if (npig === 0) return Number.NaN;
  ranked.sort((a, b) => b.score - a.score);
  let tp = 0;
  const rc: number[] = [];
  const pr: number[] = [];
  ranked.forEach((r, i) => {
    if (r.tp) tp += 1;
    rc.push(tp / npig);
    pr.push(tp / (i + 1));
  });
  let ap = 0;
  for (let i = 0; i < rc.length; i += 1) ap += ((rc[i] as number) - (i === 0 ? 0 : (rc[i - 1] as number))) * Math.max(...pr.slice(i));
  return ap;
}

describe('detection metrics (COCO rules)', () => {
  it('gives AP50 0.5 and the counts worked out by hand, as classMetrics does', () => {
    const images: Img[] = [
      {
        truth: [
          { box: box(0), classId: 1 },
          { box: box(100), classId: 1 },
          { box: box(200), classId: 1, ignore: true },
          { box: box(300), classId: 0 },
        ],
        detections: [
          { box: box(0), score: 0.9, classId: 1 },
          { box: box(50), score: 0.8, classId: 1 },
          { box: box(101), score: 0.7, classId: 1 },
          { box: box(200), score: 0.95, classId: 1 },
          { box: box(300), score: 0.99, classId: 1 },
        ],
      },
    ];
    const m = detectionMetrics(images, NAMES, 0.75);
    const b = m.classes[1];
    // Ranked: 0.99 FP, 0.9 TP, 0.8 FP, 0.7 TP (IoU 0.82): interpolated precision 0.5 at recall 0.5 and 1.
    expect(b?.ap50).toBeCloseTo(0.5, 12);
    expect(b?.ap50).toBeCloseTo(classMetrics(images.map((im) => ({ truth: im.truth.map((t) => ({ ...t, ignore: t.ignore === true })), detections: im.detections })), 1, 0.75).ap50, 12);
    expect(b).toMatchObject({ truths: 2, truePositives: 1, falsePositives: 2, falseNegatives: 1 });
    expect(b?.precision).toBeCloseTo(1 / 3, 12);
    expect(b?.recall).toBeCloseTo(0.5, 12);
    // Class a has one truth and no detection: AP 0; class c has neither: left out of the means.
    expect(m.classes[0]).toMatchObject({ truths: 1, ap50: 0, recall: 0, precision: 0 });
    expect(m.classes[2]?.truths).toBe(0);
    expect(m.mAP50).toBeCloseTo(0.25, 12);
  });

  it('counts a shifted box as found up to the IoU it reaches: mAP50-95 0.7 for IoU 0.818', () => {
    // 10x10 boxes one pixel apart: 90 / 110 = 0.818 >= 0.50 .. 0.80 (7 thresholds), < 0.85 .. 0.95 (3).
    const m = detectionMetrics([{ truth: [{ box: box(0), classId: 0 }], detections: [{ box: box(1), score: 0.6, classId: 0 }] }], ['a'], 0.5);
    expect(m.classes[0]?.ap).toEqual([1, 1, 1, 1, 1, 1, 1, 0, 0, 0]);
    expect(m.mAP50_95).toBeCloseTo(0.7, 12);
    expect(IOU_THRESHOLDS).toEqual([0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95]);
  });

  it('builds the Ultralytics confusion matrix: right, wrong class, missed, background', () => {
    const m = detectionMetrics(
      [
        {
          truth: [
            { box: box(0), classId: 0 },
            { box: box(100), classId: 1 },
            { box: box(200), classId: 0 },
          ],
          detections: [
            { box: box(0), score: 0.9, classId: 0 }, // right
            { box: box(100), score: 0.8, classId: 0 }, // a b called a
            { box: box(300), score: 0.7, classId: 1 }, // on nothing
            { box: box(200), score: 0.3, classId: 0 }, // below the threshold: the truth is missed
          ],
        },
      ],
      ['a', 'b'],
      0.5,
    );
    // Rows: truth a, b, background; columns: predicted a, b, background.
    expect(m.confusion).toEqual([
      [1, 0, 1],
      [1, 0, 0],
      [0, 1, 0],
    ]);
  });

  it('keeps a PR curve of at most MAX_CURVE_POINTS points, recall ascending to the last found truth', () => {
    const truth = Array.from({ length: 500 }, (_, i) => ({ box: box(i * 20), classId: 0 }));
    const detections = truth.map((t, i) => ({ box: t.box, score: 1 - i / 1000, classId: 0 }));
    const c = detectionMetrics([{ truth, detections }], ['a'], 0.5).classes[0];
    expect(c?.curve.length).toBe(MAX_CURVE_POINTS);
    expect(c?.curve[0]).toMatchObject({ recall: 1 / 500, precision: 1 });
    expect(c?.curve.at(-1)).toMatchObject({ recall: 1, precision: 1 });
    const recalls = c?.curve.map((p) => p.recall) ?? [];
    expect(recalls).toEqual([...recalls].sort((x, y) => x - y));
  });

  it('property: perfect detections give AP 1 at every IoU threshold', () => {
    fc.assert(
      fc.property(datasetArb(false), (images) => {
        const perfect = images.map((im) => ({ truth: im.truth, detections: im.truth.map((t, i) => ({ box: t.box, classId: t.classId, score: 1 - i / 100 })) }));
        const m = detectionMetrics(perfect, NAMES, 0.5);
        for (const c of m.classes) if (c.truths > 0) for (const ap of c.ap) expect(ap).toBeCloseTo(1, 12);
      }),
    );
  });

  it('property: AP lies in [0, 1] and never grows with the IoU threshold', () => {
    fc.assert(
      fc.property(datasetArb(), (images) => {
        for (const c of detectionMetrics(images, NAMES, 0.5).classes) {
          if (c.truths === 0) continue;
          c.ap.forEach((ap, i) => {
            expect(ap).toBeGreaterThanOrEqual(0);
            expect(ap).toBeLessThanOrEqual(1 + 1e-12);
            if (i > 0) expect(ap).toBeLessThanOrEqual((c.ap[i - 1] as number) + 1e-12);
          });
        }
      }),
      { numRuns: 300 },
    );
  });

  it('property: a false positive scored below every detection does not change AP', () => {
    fc.assert(
      fc.property(datasetArb(), fc.nat(), fc.integer({ min: 0, max: 2 }), (images, at, classId) => {
        const before = detectionMetrics(images, NAMES, 0.5);
        const lowest = Math.min(1, ...images.flatMap((im) => im.detections.map((d) => d.score)));
        const k = at % images.length;
        const withFp = images.map((im, i) => (i === k ? { ...im, detections: [...im.detections, { box: { x: 10_000, y: 10_000, w: 10, h: 10 }, score: lowest / 2, classId }] } : im));
        const after = detectionMetrics(withFp, NAMES, 0.5);
        after.classes.forEach((c, i) => c.ap.forEach((ap, j) => (Number.isNaN(ap) ? expect(before.classes[i]?.ap[j]).toBeNaN() : expect(ap).toBeCloseTo(before.classes[i]?.ap[j] as number, 12))));
      }),
    );
  });

  it('property: the order of images, truths and detections does not matter', () => {
    fc.assert(
      fc.property(datasetArb(), fc.integer({ min: 1, max: 1_000_000 }), (images, seed) => {
        const a = detectionMetrics(images, NAMES, 0.5);
        const shuffled = shuffle(images, seed).map((im, i) => ({ truth: shuffle(im.truth, seed + i), detections: shuffle(im.detections, seed + 2 * i + 1) }));
        const b = detectionMetrics(shuffled, NAMES, 0.5);
        a.classes.forEach((c, i) => {
          c.ap.forEach((ap, j) => (Number.isNaN(ap) ? expect(b.classes[i]?.ap[j]).toBeNaN() : expect(b.classes[i]?.ap[j]).toBeCloseTo(ap, 12)));
          expect(b.classes[i]?.truePositives).toBe(c.truePositives);
        });
        expect(b.confusion).toEqual(a.confusion);
      }),
    );
  });

  it('property: AP50 is classMetrics ap50 for every class with truths', () => {
    fc.assert(
      fc.property(datasetArb(), (images) => {
        const m = detectionMetrics(images, NAMES, 0.4);
        const legacy = images.map((im) => ({ truth: im.truth.map((t) => ({ ...t, ignore: t.ignore === true })), detections: im.detections }));
        for (const c of m.classes) {
          if (c.truths === 0) continue;
          const old = classMetrics(legacy, c.classId, 0.4);
          expect(c.ap50).toBeCloseTo(old.ap50, 12);
          expect(c.truePositives).toBe(old.truePositives);
          expect(c.falsePositives).toBe(old.falsePositives);
        }
      }),
    );
  });
  it('property: AP at every IoU threshold is what pycocotools\' matching gives (all-point)', () => {
    fc.assert(
      fc.property(datasetArb(), (images) => {
        const m = detectionMetrics(images, NAMES, 0.5);
        for (const c of m.classes) {
          IOU_THRESHOLDS.forEach((thr, i) => {
            const want = cocoReferenceAp(images, c.classId, thr);
            if (Number.isNaN(want)) expect(c.ap[i]).toBeNaN();
            else expect(c.ap[i]).toBeCloseTo(want, 12);
          });
        }
      }),
      { numRuns: 300 },
    );
  });
  it('property: mAP by object size is the mean of pycocotools\' AP over the classes with truths of that size', () => {
    fc.assert(
      fc.property(datasetArb(), (images) => {
        const m = detectionMetrics(images, NAMES, 0.5);
        expect(m.bySize.map((x) => x.name)).toEqual(['small', 'medium', 'large']);
        for (const size of m.bySize) {
          const range = SIZE_RANGES.find((r) => r.name === size.name) as (typeof SIZE_RANGES)[number];
          const per = NAMES.map((_, k) => IOU_THRESHOLDS.map((thr) => cocoReferenceAp(images, k, thr, [range.minArea, range.maxArea]))).filter((ap) => !Number.isNaN(ap[0]));
          if (per.length === 0) {
            expect(size.mAP50).toBeNaN();
            continue;
          }
          expect(size.mAP50).toBeCloseTo(per.reduce((s, ap) => s + (ap[0] as number), 0) / per.length, 12);
          expect(size.mAP50_95).toBeCloseTo(per.reduce((s, ap) => s + ap.reduce((a, b) => a + b, 0) / ap.length, 0) / per.length, 12);
        }
        expect(m.bySize.reduce((s, x) => s + x.truths, 0)).toBeGreaterThanOrEqual(m.classes.reduce((s, c) => s + c.truths, 0));
      }),
      { numRuns: 300 },
    );
  });
});
