import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeReleaseNotice, decodeUpdateReport, encodeReleaseNotice, encodeUpdateReport, parseShadowSummary, type ShadowSummary } from '../../../fleet/protocol/index.js';

const enc = (v: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(v));

const SUMMARY: ShadowSummary = {
  stages: 1,
  inferences: 200,
  errors: 1,
  durationMs: 5123,
  latencyMs: { p50: 1.5, p99: 7.25 },
  anomaly: { windows: 200, alertAgreement: 0.97, activeAlerting: 4, candidateAlerting: 10, scoreCorrelation: 0.91 },
  vision: { frames: 50, activeDetections: 120, candidateDetections: 118, matched: 110, f1: 0.924, classAgreement: null },
  evaluation: { metric: 'roc-auc', samples: 400, active: 0.93, candidate: 0.97, error: null },
};

describe('release notices and update reports with shadow runs', () => {
  it('carry a shadow request and a shadow summary through encode and decode unchanged', () => {
    expect(decodeReleaseNotice(encodeReleaseNotice({ target: 'models/press/2/model.onnx', shadow: { inferences: 200, maxMs: 60_000 } }))).toEqual({ target: 'models/press/2/model.onnx', shadow: { inferences: 200, maxMs: 60_000 } });
    expect(decodeReleaseNotice(encodeReleaseNotice({ target: 'models/press/2/model.onnx' }))).toEqual({ target: 'models/press/2/model.onnx' });
    expect(decodeReleaseNotice(encodeReleaseNotice({ target: 'models/press/2/model.onnx', rollback: true }))).toEqual({ target: 'models/press/2/model.onnx', rollback: true });
    expect(() => decodeReleaseNotice(enc({ target: 'models/press/2/model.onnx', rollback: 'yes' }))).toThrow('release notice.rollback');
    expect(() => decodeReleaseNotice(enc({ target: 'models/press/2/model.onnx', rollback: true, shadow: { inferences: 1, maxMs: 1000 } }))).toThrow('rollback and shadow');
    const report = { gw: 'gw-1', model: 'press', target: 'models/press/2/model.onnx', release: 2, version: '1.2', step: 'shadow' as const, outcome: 'ok' as const, reason: null, ts: 1, shadow: SUMMARY };
    expect(decodeUpdateReport(encodeUpdateReport(report))).toEqual(report);
  });

  it('refuse a shadow request out of bounds and a summary with a bad number, naming the field', () => {
    for (const [shadow, field] of [
      [{ inferences: 0, maxMs: 1000 }, 'shadow.inferences'],
      [{ inferences: 10, maxMs: 1e12 }, 'shadow.maxMs'],
      [{ inferences: 1.5, maxMs: 1000 }, 'shadow.inferences'],
      [[1, 2], 'shadow'],
    ] as const) {
      expect(() => decodeReleaseNotice(enc({ target: 'models/a/1/model.onnx', shadow }))).toThrow(field);
    }
    expect(() => parseShadowSummary({ ...SUMMARY, anomaly: { ...SUMMARY.anomaly, alertAgreement: 1.2 } })).toThrow('shadow.anomaly.alertAgreement');
    expect(() => parseShadowSummary({ ...SUMMARY, inferences: -1 })).toThrow('shadow.inferences');
    expect(() => parseShadowSummary({ ...SUMMARY, evaluation: { ...SUMMARY.evaluation, candidate: 1.5 } })).toThrow('shadow.evaluation.candidate');
    expect(() => parseShadowSummary({ ...SUMMARY, evaluation: { ...SUMMARY.evaluation, metric: 'accuracy' } })).toThrow('shadow.evaluation.metric');
    // A vision stage's evaluation: detection F1 at IoU 0.5 over the set's frames.
    expect(parseShadowSummary({ ...SUMMARY, evaluation: { ...SUMMARY.evaluation, metric: 'f1@0.5', samples: 24 } }).evaluation).toEqual({ ...SUMMARY.evaluation, metric: 'f1@0.5', samples: 24 });
    // A gateway from before evaluation sets sends none: that is no evaluation, not an error.
    const { evaluation: _none, ...older } = SUMMARY;
    expect(parseShadowSummary(older).evaluation).toBeNull();
    expect(() => parseShadowSummary({ ...SUMMARY, latencyMs: { p50: 'fast', p99: 1 } })).toThrow('shadow.latencyMs.p50');
    expect(() => decodeUpdateReport(enc({ gw: 'g', model: 'm', target: 't', release: 1, version: 'v', step: 'shadow', outcome: 'ok', reason: null, ts: 1, shadow: { stages: 1 } }))).toThrow('update report.shadow');
  });

  it('reads a -0 count or number as 0 (JSON and CBOR can carry one; the summary must read back as itself)', () => {
    const s = parseShadowSummary({ ...SUMMARY, stages: -0, errors: -0 });
    expect(Object.is(s.stages, 0) && Object.is(s.errors, 0)).toBe(true);
  });

  it('either decode any JSON value to a well-formed summary or refuse it with E_PAYLOAD_INVALID', () => {
    // Arbitrary JSON is almost never a summary; a good summary with one field replaced by
    // arbitrary JSON sometimes is (in about one run in five, none of 100 was), and the good
    // summary itself always is, so the accepting branch runs on every run.
    const values = fc.oneof(
      fc.jsonValue(),
      fc.constant(SUMMARY),
      fc.record({ key: fc.constantFrom(...Object.keys(SUMMARY)), value: fc.jsonValue() }).map(({ key, value }) => ({ ...SUMMARY, [key]: value })),
    );
    let accepted = 0;
    fc.assert(
      fc.property(values, (v) => {
        let s: ShadowSummary;
        try {
          s = parseShadowSummary(v);
        } catch (err) {
          expect((err as { code?: string }).code).toBe('E_PAYLOAD_INVALID');
          return;
        }
        accepted += 1;
        // Well-formed: counts are whole and not negative, and it reads back as itself.
        for (const n of [s.stages, s.inferences, s.errors]) expect(Number.isInteger(n) && n >= 0, String(n)).toBe(true);
        expect(parseShadowSummary(JSON.parse(JSON.stringify(s)))).toEqual(s);
      }),
    );
    expect(accepted).toBeGreaterThan(0);
  });
});
