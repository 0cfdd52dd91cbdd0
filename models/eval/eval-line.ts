import type { VisionEvaluation } from './evaluation.js';

/** JSON has no NaN: a metric that is not defined (a class without truths) is null. */
const num = (x: number): number | null => (Number.isFinite(x) ? Math.round(x * 10_000) / 10_000 : null);

/**
 * What `edgewise model eval` prints last, one line:
 * detect: {"eval":"detect","images":N,"mAP50":..,"mAP50_95":..,"precision":..,"recall":..,"threshold":..,"per_class":{name:{...}},"by_size":{"small":{...},...}}
 * classify: {"eval":"classify","images":N,"accuracy":..,"balanced_accuracy":..,"per_class":{name:{...}}}
 */
export function evalSummary(e: VisionEvaluation): Record<string, unknown> {
  if (e.task === 'detect') {
    const m = e.metrics;
    return {
      eval: 'detect',
      images: m.images,
      mAP50: num(m.mAP50),
      mAP50_95: num(m.mAP50_95),
      precision: num(m.precision),
      recall: num(m.recall),
      threshold: m.threshold,
      per_class: Object.fromEntries(m.classes.map((c) => [c.name, { truths: c.truths, ap50: num(c.ap50), ap50_95: num(c.ap50_95), precision: num(c.precision), recall: num(c.recall), tp: c.truePositives, fp: c.falsePositives, fn: c.falseNegatives }])),
      by_size: Object.fromEntries(m.bySize.map((x) => [x.name, { truths: x.truths, mAP50: num(x.mAP50), mAP50_95: num(x.mAP50_95) }])),
    };
  }
  const m = e.metrics;
  return {
    eval: 'classify',
    images: m.images,
    accuracy: num(m.accuracy),
    balanced_accuracy: num(m.balancedAccuracy),
    per_class: Object.fromEntries(m.classes.map((c) => [c.name, { images: c.support, precision: num(c.precision), recall: num(c.recall), f1: num(c.f1), ap: num(c.ap) }])),
  };
}

export function evalLine(e: VisionEvaluation): string {
  return JSON.stringify(evalSummary(e));
}
