import { readFile } from 'node:fs/promises';
import onnxProto from 'onnx-proto';
import { beforeAll, describe, expect, it } from 'vitest';
import { encodeAnomalyEvaluationSet, encodeVisionEvaluationSet, type VisionEvaluationFrame, type VisionEvaluationSet } from '../../../fleet/protocol/evaluation-set.js';
import type { ShadowSummary } from '../../../fleet/protocol/update.js';
import { evaluateQuality, qualityGates } from '../../../fleet/rollouts/quality.js';
import { BUILTIN_DETECTOR_PATH, visionStagePlugin } from '../../../models/vision/index.js';
import { detectorF1, evaluationFrame, stageClassIds } from '../../../models/vision/shadow-evaluation.js';
import type { VisionStage } from '../../../models/vision/vision-stage.js';
import type { SourceDetection } from '../../../models/vision/vision-model.js';
import { ManagedModels } from '../../../runtime/updater/managed-models.js';
import { EVAL_SEED_BASE, MIN_VISIBLE, renderFrame } from '../../../sim/vision/labelled-frames.js';
import { makeTempDir } from '../../support/temp-dir.js';
import { CapturingEventLog, activate, candidateOf } from '../shadow-support.js';
import { brightness } from './layout-models.js';
import { defaultBackend } from '../../support/inference-backend.js';

const { onnx } = onnxProto;
const MODEL = 'belt-parts';

const box = (x: number, y = 0): { x: number; y: number; w: number; h: number } => ({ x, y, w: 10, h: 10 });
const det = (x: number, classId: number, score = 0.9): SourceDetection => ({ box: box(x), classId, score, className: `class${classId}` });
const frame = (boxes: VisionEvaluationFrame['boxes']): VisionEvaluationFrame => ({ format: 'RGBA', width: 400, height: 20, pixels: new Uint8Array(400 * 20 * 4), boxes });

describe('a detector scored on a labelled set', () => {
  it('is micro-F1 at IoU 0.5 with the class matching, as worked out by hand', async () => {
    const set: VisionEvaluationSet = {
      classNames: ['part', 'defective-part'],
      frames: [
        frame([
          { classId: 0, ...box(0) },
          { classId: 1, ...box(100) },
          { classId: 0, ...box(200) },
        ]),
        frame([]),
        frame([{ classId: 1, ...box(300) }]),
      ],
    };
    const found: SourceDetection[][] = [
      // TP; right place, wrong class (FP, and the box is missed); a second detection of a found box (FP); box(200) missed.
      [det(1, 0), det(100, 0), det(2, 0, 0.5)],
      // Nothing there: FP.
      [det(50, 1)],
      // TP at IoU 0.54 (shifted 3 px of 10).
      [det(303, 1)],
    ];
    let i = 0;
    const s = await detectorF1(async () => found[i++] as SourceDetection[], set, [0, 1]);
    // Labelled 4, detections 5, matched 2: F1 = 4 / 9.
    expect(s).toEqual({ f1: 0.444444, frames: 3, labelled: 4, detections: 5, matched: 2 });
    // Each frame as a camera source would hand it over.
    expect(evaluationFrame(set.frames[0] as VisionEvaluationFrame, 0)).toMatchObject({ format: 'RGBA', width: 400, height: 20, layout: [{ offset: 0, stride: 1600 }] });
  });

  it('matches the set\'s classes to the stage\'s by name, and names a class the stage does not have', () => {
    const set: VisionEvaluationSet = { classNames: ['defective-part', 'part', 'unused'], frames: [frame([{ classId: 0, ...box(0) }, { classId: 1, ...box(50) }])] };
    expect(stageClassIds(set, ['part', 'defective-part'])).toEqual([1, 0, -1]);
    expect(() => stageClassIds(set, ['part'])).toThrow('the evaluation set labels boxes "defective-part", which is not a class of this stage (part)');
    expect(stageClassIds({ classNames: ['class1', 'class0'], frames: set.frames }, undefined)).toEqual([1, 0]);
    expect(() => stageClassIds(set, undefined)).toThrow('it has no classNames, so its classes are class0, class1, ...');
  });
});

/** The built-in detector with the bias of its score output lowered by `d`: it misses the parts it is less sure of. */
function dimmed(bytes: Uint8Array, d: number): Uint8Array {
  const m = onnx.ModelProto.decode(bytes);
  const b = m.graph?.initializer?.find((t) => t.name === 'b2');
  if (b?.rawData === undefined || b.rawData === null) throw new Error('the built-in detector has no last-layer bias b2');
  const values = new Float32Array(Uint8Array.from(b.rawData).buffer);
  values[4] = (values[4] as number) + d;
  b.rawData = new Uint8Array(values.buffer);
  return onnx.ModelProto.encode(m).finish();
}

/** Held-out conveyor stills (never trained on), with every part a box labelled "part"; stills with a part mostly outside the frame are left out. */
function conveyorSet(frames: number): VisionEvaluationSet {
  const out: VisionEvaluationFrame[] = [];
  for (let seed = EVAL_SEED_BASE; out.length < frames; seed += 1) {
    const r = renderFrame(seed, 640, 360);
    if (r.parts.some((p) => p.visible < MIN_VISIBLE)) continue;
    out.push({ format: 'I420', width: 640, height: 360, pixels: r.frame.data, boxes: r.parts.map((p) => ({ classId: 0, ...p.box })) });
  }
  return { classNames: ['part'], frames: out };
}

const SET = conveyorSet(24);
const GATES = qualityGates({ inferences: 8 });

interface Run {
  readonly summary: ShadowSummary;
  readonly events: CapturingEventLog;
}

/** A vision stage on the managed detector (active: `active`), the candidate in shadow with `evaluation`, fed the set's frames until the shadow is done. */
async function shadowRun(active: Uint8Array, candidate: Uint8Array, evaluation: Uint8Array, config: Record<string, unknown> = {}): Promise<Run> {
  const dir = await makeTempDir();
  try {
    await activate(dir.path, MODEL, active, 1, '1.0');
    const managed = new ManagedModels(dir.path);
    const events = new CapturingEventLog();
    const stage = (await visionStagePlugin.create(
      { type: 'vision', model: { managed: MODEL }, classNames: ['part'], motion: { enabled: false }, ...config },
      { backend: defaultBackend(), gatewayId: 'gw', stateDir: dir.path, decisions: { append: async () => undefined }, events: events.for('vision'), models: managed },
    )) as VisionStage;
    try {
      let summary: ShadowSummary | undefined;
      const done = managed.shadow(MODEL, { ...candidateOf(MODEL, candidate, 2, 'candidate'), evaluation }, { inferences: GATES.inferences, maxMs: 60_000 }).then((s) => (summary = s));
      for (let i = 0; summary === undefined && i < 2000; i += 1) {
        const f = evaluationFrame(SET.frames[i % SET.frames.length] as VisionEvaluationFrame, i * 100_000);
        await stage.process([{ stream: 'cam', class: 'telemetry', ts: i * 100, data: { frame: f } }]);
        await new Promise((r) => setImmediate(r));
      }
      await done;
      return { summary: summary as ShadowSummary, events };
    } finally {
      await stage.stop();
    }
  } finally {
    await dir.remove();
  }
}

describe('vision stage scoring a release\'s labelled evaluation set in shadow', () => {
  let detector: Uint8Array;
  let bytes: Uint8Array;
  beforeAll(async () => {
    detector = await readFile(BUILTIN_DETECTOR_PATH());
    bytes = encodeVisionEvaluationSet(SET);
  });

  it('the same detector as candidate ties with the active one, and the quality gate passes', async () => {
    const { summary, events } = await shadowRun(detector, detector, bytes);
    console.log('vision evaluation, same detector:', JSON.stringify(summary.evaluation));
    expect(summary.evaluation).toMatchObject({ metric: 'f1@0.5', samples: 24, error: null });
    expect(summary.evaluation?.active).toBeGreaterThan(0.9);
    expect(summary.evaluation?.candidate).toBe(summary.evaluation?.active);
    expect(events.seen.find((e) => e.event === 'vision.shadow_evaluated')?.fields).toMatchObject({ samples: 24, activeF1: summary.evaluation?.active, candidateF1: summary.evaluation?.candidate });
    const gate = evaluateQuality([{ gw: 'gw-1', shadow: summary }], GATES, 1000, true);
    expect(gate.pass).toBe(true);
    expect(gate.detail.evaluation).toEqual({ worstMargin: 0, minCandidate: summary.evaluation?.active, evaluated: 1 });
  }, 30_000);

  it('a candidate that misses parts scores lower, and the gate fails with both numbers', async () => {
    const { summary } = await shadowRun(detector, dimmed(detector, -6), bytes);
    console.log('vision evaluation, dimmed candidate:', JSON.stringify(summary.evaluation));
    const e = summary.evaluation;
    expect(e).toMatchObject({ metric: 'f1@0.5', samples: 24, error: null });
    expect(e?.candidate).toBeLessThan((e?.active ?? 0) - 0.1);
    const gate = evaluateQuality([{ gw: 'gw-1', shadow: summary }], GATES, 1000, true);
    expect(gate.pass).toBe(false);
    expect(gate.detail.failing).toEqual([{ gw: 'gw-1', why: [`detection F1 (IoU 0.5) on the labelled set ${e?.candidate?.toFixed(3)}, below the active model's ${e?.active?.toFixed(3)} (24 frames)`] }]);
  }, 30_000);

  it('a better candidate passes though it disagrees with the active model', async () => {
    const { summary } = await shadowRun(dimmed(detector, -6), detector, bytes);
    console.log('vision evaluation, better candidate:', JSON.stringify(summary.evaluation), 'agreement:', JSON.stringify(summary.vision));
    expect(summary.evaluation?.candidate).toBeGreaterThan((summary.evaluation?.active ?? 1) + 0.1);
    // Judged on agreement it would not pass: the better model finds what the worse one misses.
    expect(summary.vision?.f1).toBeLessThan(GATES.minAgreement);
    expect(evaluateQuality([{ gw: 'gw-1', shadow: summary }], GATES, 1000, true).pass).toBe(true);
    expect(evaluateQuality([{ gw: 'gw-1', shadow: summary }], GATES, 1000, false).pass).toBe(false);
  }, 30_000);

  it('a set it cannot score is said, with why, and the gate fails naming it', async () => {
    // A whole-frame classifier (active and candidate) has no boxes to score.
    const classifier = brightness();
    for (const [evaluation, config, why, model] of [
      [encodeAnomalyEvaluationSet({ channels: ['a'], windowSamples: 1, count: 2, windows: Float32Array.from([0, 1]), labels: Uint8Array.from([0, 1]) }), {}, 'kind "anomaly-windows": this stage evaluates "vision-frames" sets', detector],
      [encodeVisionEvaluationSet({ ...SET, classNames: ['widget'] }), {}, 'the evaluation set labels boxes "widget", which is not a class of this stage (part)', detector],
      [bytes, { task: 'classification', classNames: ['bright', 'dark'] }, 'a classification model is not scored', classifier],
      [bytes, { classNames: ['bright', 'dark'] }, 'a classification model is not scored', classifier],
    ] as const) {
      const { summary, events } = await shadowRun(model, model, evaluation, config);
      expect(summary.evaluation).toMatchObject({ metric: 'f1@0.5', candidate: null });
      expect(summary.evaluation?.error).toContain(why);
      expect(events.seen.find((e) => e.event === 'vision.shadow_evaluation_failed')?.level).toBe('warn');
      const gate = evaluateQuality([{ gw: 'gw-1', shadow: summary }], GATES, 1000, true);
      expect(gate.pass).toBe(false);
      expect(gate.detail.failing[0]?.why.join(' ')).toContain(`no evaluation on the labelled set: `);
    }
  }, 60_000);
});
