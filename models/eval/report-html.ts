/**
 * `edgewise model eval`'s report as one self-contained HTML file: inline CSS, inline SVG, the
 * thumbnails as data: URIs, no script and no external URL, so a quality engineer can mail it
 * or open it on a plant laptop with no network. The look follows the simulator's report
 * (sim/score/render-html.ts). Every name from the dataset or the model is escaped.
 */
import { escapeHtml as esc } from './escape-html.js';
import { evalLine } from './eval-line.js';
import type { ClassificationEvaluation, DetectionEvaluation, GalleryItem, VisionEvaluation } from './evaluation.js';
import { confusionTable, galleryFigure, prCurveSvg } from './report-figures.js';
import { cell, fmt, head, htmlPage, statCard } from './report-style.js';


function gallery(title: string, explain: string, items: readonly GalleryItem[]): string {
  const body = items.length === 0 ? '<p class="sub">None.</p>' : `<div class="gallery">${items.map(galleryFigure).join('')}</div>`;
  return `<h3>${esc(title)}</h3><p class="sub">${esc(explain)}</p>${body}`;
}

function detectionBody(e: DetectionEvaluation): string[] {
  const m = e.metrics;
  const body: string[] = [];
  body.push('<div class="cards">');
  body.push(statCard('mAP50', fmt(m.mAP50)));
  body.push(statCard('mAP50-95', fmt(m.mAP50_95)));
  body.push(statCard(`precision at ${m.threshold}`, fmt(m.precision)));
  body.push(statCard(`recall at ${m.threshold}`, fmt(m.recall)));
  body.push(statCard('images', String(m.images)));
  body.push(statCard('inference ms / image', fmt(e.context.inferenceMsMean, 1)));
  body.push('</div>');
  body.push('<h2>Per class</h2>');
  body.push(`<p class="sub">AP by all-point interpolation of the precision-recall curve, detections matched to truths greedily by score (COCO's rules); AP50-95 is the mean over IoU 0.50, 0.55, ..., 0.95. Precision, recall and counts at the operating threshold ${esc(String(m.threshold))} and IoU 0.5. Means are over the classes that have truths.</p>`);
  body.push('<table id="per-class">');
  body.push(head(['class', 'truths', 'detections (any score)', 'TP', 'FP', 'FN', 'precision', 'recall', 'AP50', 'AP50-95']));
  body.push('<tbody>');
  for (const c of m.classes) {
    body.push(`<tr>${[c.name, String(c.truths), String(c.detections), String(c.truePositives), String(c.falsePositives), String(c.falseNegatives), fmt(c.precision), fmt(c.recall), fmt(c.ap50), fmt(c.ap50_95)].map(cell).join('')}</tr>`);
  }
  body.push('</tbody></table>');
  body.push('<h3>By object size</h3>');
  body.push('<p class="sub">COCO\'s sizes by box area in image pixels: small up to 32 x 32, medium to 96 x 96, large beyond; objects of other sizes are left out of each row.</p>');
  body.push('<table id="by-size">');
  body.push(head(['size', 'truths', 'mAP50', 'mAP50-95']));
  body.push('<tbody>');
  for (const x of m.bySize) body.push(`<tr>${[x.name, String(x.truths), fmt(x.mAP50), fmt(x.mAP50_95)].map(cell).join('')}</tr>`);
  body.push('</tbody></table>');
  body.push('<h2>Confusion matrix</h2>');
  body.push(`<p class="sub">At the operating threshold and IoU 0.5, as Ultralytics counts it: detections and truths paired one to one by IoU, of any class; a truth nothing found is counted under predicted background, a detection on nothing under true background.</p>`);
  body.push(confusionTable(m.confusion, [...m.classes.map((c) => c.name), 'background']));
  body.push('<h2>Precision-recall curves</h2>');
  body.push(`<p class="sub">At IoU 0.5; the shaded area is AP50, the red dot the operating threshold ${esc(String(m.threshold))}.</p>`);
  body.push(`<div class="curves">${m.classes.map((c) => prCurveSvg({ ...c, summary: `AP50 ${fmt(c.ap50)}, AP50-95 ${fmt(c.ap50_95)}`, marker: `at the threshold ${m.threshold}` })).join('')}</div>`);
  body.push('<h2>Worst mistakes</h2>');
  body.push('<p class="sub legend">Truths in <span class="truth">green</span>, detections at or above the threshold in <span class="prediction">red</span>; the mistake is drawn thicker. Each picture is the region around the mistake.</p>');
  body.push(gallery('The most confident false detections', 'Detections that match no truth of their class at IoU 0.5, highest score first.', e.falsePositives));
  body.push(gallery('Missed objects', 'Truths not found at the operating threshold, the least seen first (lowest score of any detection of their class on them).', e.missed));
  return body;
}

function classificationBody(e: ClassificationEvaluation): string[] {
  const m = e.metrics;
  const body: string[] = [];
  body.push('<div class="cards">');
  body.push(statCard('accuracy', fmt(m.accuracy)));
  body.push(statCard('balanced accuracy', fmt(m.balancedAccuracy)));
  body.push(statCard('images', String(m.images)));
  body.push(statCard('inference ms / image', fmt(e.context.inferenceMsMean, 1)));
  body.push('</div>');
  body.push('<h2>Per class</h2>');
  body.push('<p class="sub">The answer is the most probable class (top-1). Balanced accuracy is the mean recall over the classes that have images. AP: the class against the rest, images ranked by the probability given to it.</p>');
  body.push('<table id="per-class">');
  body.push(head(['class', 'images', 'predicted', 'precision', 'recall', 'F1', 'AP (one vs rest)']));
  body.push('<tbody>');
  for (const c of m.classes) body.push(`<tr>${[c.name, String(c.support), String(c.predicted), fmt(c.precision), fmt(c.recall), fmt(c.f1), fmt(c.ap)].map(cell).join('')}</tr>`);
  body.push('</tbody></table>');
  body.push('<h2>Confusion matrix</h2>');
  body.push(confusionTable(m.confusion, m.classes.map((c) => c.name)));
  body.push('<h2>Precision-recall curves</h2>');
  body.push('<p class="sub">Each class against the rest: images ranked by the probability given to the class. The shaded area is its AP; the red dot is the top-1 answer. A point left of the dot is a stricter threshold on that class, right of it a looser one (flag a defect even when it is not the top class).</p>');
  body.push(`<div class="curves">${m.classes.map((c) => prCurveSvg({ ...c, truths: c.support, summary: `AP ${fmt(c.ap)}`, marker: 'the top-1 answer' })).join('')}</div>`);
  body.push('<h2>Worst mistakes</h2>');
  body.push(gallery('The most confident wrong answers', 'Images given the wrong class, the most confident first.', e.confidentWrong));
  body.push(gallery('The least sure of the truth', 'Wrong answers with the lowest probability given to the true class first.', e.leastSure));
  return body;
}

export function renderEvalReport(e: VisionEvaluation): string {
  const c = e.context;
  const title = `edgewise model eval: ${c.architecture} (${e.task})`;
  const body: string[] = [];
  body.push(`<h1>${esc(title)}</h1>`);
  const where = c.modelDir === undefined ? '' : ` from ${c.modelDir}`;
  body.push(`<p class="sub">The model${esc(where)} (model.onnx sha256 <code>${esc(c.sha256.slice(0, 16))}</code>) on the ${esc(c.split)} images of ${esc(c.datasetRoot)}, run as a gateway runs it (its preprocessing, ONNX Runtime on the CPU, its decoder${e.task === 'detect' ? ' and NMS' : ''}); ${fmt(c.seconds, 1)} s, finished ${esc(c.finishedAt)}. Classes: ${c.classNames.map(esc).join(', ')}.</p>`);
  if (c.notes.length > 0) body.push(`<ul>${c.notes.map((n) => `<li>${esc(n)}</li>`).join('')}</ul>`);
  body.push(...(e.task === 'detect' ? detectionBody(e) : classificationBody(e)));
  body.push('<h2>The summary line</h2>');
  body.push(`<p><code>${esc(evalLine(e))}</code></p>`);
  return htmlPage(title, body);
}
