import { ProtocolError } from './errors.js';

/**
 * Model updates over MQTT. The fleet tells a gateway that a release exists (the notice only
 * says where to look: everything that matters is in signed TUF metadata, so a forged notice
 * can at most make the gateway check); the gateway reports every step of an update.
 */
export interface ReleaseNotice {
  /** The target path of the model release in the TUF repository. */
  readonly target: string;
  /**
   * Run the release in shadow instead of activating it: checked, downloaded and health-checked
   * as for an update, then run beside the active model on the same inputs until `inferences`
   * runs or `maxMs`, whichever comes first, and reported (step `shadow`); nothing is installed.
   */
  readonly shadow?: ShadowSpec;
  /**
   * Switch back from this release to the one the gateway ran before (the fleet stopped a
   * rollout). Only a release that is active is switched from, and only to the standby slot,
   * which holds a release the gateway verified and ran before.
   */
  readonly rollback?: true;
}

export interface ShadowSpec {
  readonly inferences: number;
  readonly maxMs: number;
}

/** Bounds of a shadow run a notice may ask for. */
export const SHADOW_LIMITS = { maxInferences: 1_000_000, maxMs: 24 * 3600 * 1000 } as const;

/** How a candidate compared with the active model over a shadow run (the gateway measures, the fleet judges). */
export type ShadowSummary = {
  /** Stages that ran the candidate (0: nothing on this gateway runs the model, so nothing was measured). */
  readonly stages: number;
  /** Runs of the candidate, and how many of them threw. */
  readonly inferences: number;
  readonly errors: number;
  readonly durationMs: number;
  /** The candidate's latency per run (null: no run). */
  readonly latencyMs: { readonly p50: number; readonly p99: number } | null;
  /** Anomaly stages: the share of windows on whose alerting state both agree, the two models' alerting windows, and the correlation of their scores. */
  readonly anomaly: { readonly windows: number; readonly alertAgreement: number; readonly activeAlerting: number; readonly candidateAlerting: number; readonly scoreCorrelation: number | null } | null;
  /** Vision stages: detections of each, micro-F1 of the candidate's against the active model's at IoU 0.5, and class agreement of the matched ones. */
  readonly vision: { readonly frames: number; readonly activeDetections: number; readonly candidateDetections: number; readonly matched: number; readonly f1: number; readonly classAgreement: number | null } | null;
  /** The release's labelled evaluation set, scored by both models on this gateway (null: the release has none, or no stage scored it). */
  readonly evaluation: ShadowEvaluation | null;
};

/**
 * Both models on a release's labelled evaluation set: the metric of each (null for the active
 * model when none is active), or why the candidate could not be evaluated.
 */
export type EvaluationMetric = 'roc-auc' | 'f1@0.5';
export const EVALUATION_METRICS: readonly EvaluationMetric[] = ['roc-auc', 'f1@0.5'];

export interface ShadowEvaluation {
  /**
   * Anomaly: ROC AUC of the window scores against the labels (`samples`: windows). Vision:
   * micro-F1 of the detections against the labelled boxes, one-to-one at IoU >= 0.5 with the
   * same class (`samples`: frames).
   */
  readonly metric: EvaluationMetric;
  readonly samples: number;
  readonly active: number | null;
  readonly candidate: number | null;
  /** Why there is no candidate value (a set the stage cannot read, a candidate that fails on it). */
  readonly error: string | null;
}

export interface UpdateReportMessage {
  readonly gw: string;
  readonly model: string | null;
  readonly target: string;
  readonly release: number | null;
  readonly version: string | null;
  readonly step: 'refresh' | 'check' | 'download' | 'install' | 'health' | 'shadow' | 'activate' | 'probation' | 'rollback';
  readonly outcome: 'ok' | 'refused' | 'failed';
  readonly reason: string | null;
  readonly ts: number;
  /** Only on a `shadow` step that ran. */
  readonly shadow?: ShadowSummary;
}

const STEPS = ['refresh', 'check', 'download', 'install', 'health', 'shadow', 'activate', 'probation', 'rollback'] as const;
const MAX_NOTICE_BYTES = 4096;

function json(bytes: Uint8Array, what: string): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (err) {
    throw new ProtocolError('E_PAYLOAD_DECODE', `${what}: not UTF-8 JSON (${(err as Error).message})`, { cause: err });
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new ProtocolError('E_PAYLOAD_INVALID', `${what}: expected a JSON object`);
  return v as Record<string, unknown>;
}

export function encodeReleaseNotice(n: ReleaseNotice): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(n));
}

export function decodeReleaseNotice(bytes: Uint8Array): ReleaseNotice {
  if (bytes.length > MAX_NOTICE_BYTES) throw new ProtocolError('E_PAYLOAD_TOO_LARGE', `release notice: ${bytes.length} bytes, at most ${MAX_NOTICE_BYTES}`);
  const v = json(bytes, 'release notice');
  if (typeof v['target'] !== 'string' || !/^[A-Za-z0-9._/-]{1,200}$/.test(v['target'])) throw new ProtocolError('E_PAYLOAD_INVALID', `release notice.target: expected a target path, got ${JSON.stringify(v['target'])}`);
  const sh = v['shadow'];
  if (v['rollback'] !== undefined && v['rollback'] !== null && v['rollback'] !== false) {
    if (v['rollback'] !== true) throw new ProtocolError('E_PAYLOAD_INVALID', `release notice.rollback: expected true, got ${JSON.stringify(v['rollback'])}`);
    if (sh !== undefined && sh !== null) throw new ProtocolError('E_PAYLOAD_INVALID', 'release notice: rollback and shadow together make no sense');
    return { target: v['target'], rollback: true };
  }
  if (sh === undefined || sh === null) return { target: v['target'] };
  const o = sh as Record<string, unknown>;
  const int = (k: 'inferences' | 'maxMs', max: number): number => {
    const x = o[k];
    if (typeof x !== 'number' || !Number.isInteger(x) || x < 1 || x > max) throw new ProtocolError('E_PAYLOAD_INVALID', `release notice.shadow.${k}: expected an integer from 1 to ${max}, got ${JSON.stringify(x)}`);
    return x;
  };
  if (typeof sh !== 'object' || Array.isArray(sh)) throw new ProtocolError('E_PAYLOAD_INVALID', 'release notice.shadow: expected an object with inferences and maxMs');
  return { target: v['target'], shadow: { inferences: int('inferences', SHADOW_LIMITS.maxInferences), maxMs: int('maxMs', SHADOW_LIMITS.maxMs) } };
}

/** A shadow summary from a gateway, checked field by field (the fleet judges releases on it). */
export function parseShadowSummary(x: unknown, where = 'shadow'): ShadowSummary {
  const bad = (path: string, want: string): never => {
    throw new ProtocolError('E_PAYLOAD_INVALID', `${where}.${path}: expected ${want}`);
  };
  const obj = (v: unknown, path: string): Record<string, unknown> => (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : bad(path, 'an object'));
  const count = (o: Record<string, unknown>, k: string, path: string): number => {
    const v = o[k];
    // `+ 0` turns a -0 (CBOR and JSON can carry one) into 0, so a summary reads back as itself.
    return typeof v === 'number' && Number.isInteger(v) && v >= 0 ? v + 0 : bad(`${path}${k}`, 'an integer >= 0');
  };
  const num = (o: Record<string, unknown>, k: string, path: string, lo: number, hi: number, nullable = false): number | null => {
    const v = o[k];
    if (nullable && v === null) return null;
    return typeof v === 'number' && Number.isFinite(v) && v >= lo && v <= hi ? v + 0 : bad(`${path}${k}`, `a number from ${lo} to ${hi}${nullable ? ' or null' : ''}`);
  };
  const s = obj(x, '');
  const lat = s['latencyMs'] === null ? null : obj(s['latencyMs'], 'latencyMs');
  const an = s['anomaly'] === null || s['anomaly'] === undefined ? null : obj(s['anomaly'], 'anomaly');
  const vi = s['vision'] === null || s['vision'] === undefined ? null : obj(s['vision'], 'vision');
  const ev = s['evaluation'] === null || s['evaluation'] === undefined ? null : obj(s['evaluation'], 'evaluation');
  return {
    stages: count(s, 'stages', ''),
    inferences: count(s, 'inferences', ''),
    errors: count(s, 'errors', ''),
    durationMs: num(s, 'durationMs', '', 0, Number.MAX_SAFE_INTEGER) as number,
    latencyMs: lat === null ? null : { p50: num(lat, 'p50', 'latencyMs.', 0, 1e9) as number, p99: num(lat, 'p99', 'latencyMs.', 0, 1e9) as number },
    anomaly:
      an === null
        ? null
        : {
            windows: count(an, 'windows', 'anomaly.'),
            alertAgreement: num(an, 'alertAgreement', 'anomaly.', 0, 1) as number,
            activeAlerting: count(an, 'activeAlerting', 'anomaly.'),
            candidateAlerting: count(an, 'candidateAlerting', 'anomaly.'),
            scoreCorrelation: num(an, 'scoreCorrelation', 'anomaly.', -1, 1, true),
          },
    vision:
      vi === null
        ? null
        : {
            frames: count(vi, 'frames', 'vision.'),
            activeDetections: count(vi, 'activeDetections', 'vision.'),
            candidateDetections: count(vi, 'candidateDetections', 'vision.'),
            matched: count(vi, 'matched', 'vision.'),
            f1: num(vi, 'f1', 'vision.', 0, 1) as number,
            classAgreement: num(vi, 'classAgreement', 'vision.', 0, 1, true),
          },
    evaluation:
      ev === null
        ? null
        : {
            metric: EVALUATION_METRICS.find((m) => m === ev['metric']) ?? bad('evaluation.metric', EVALUATION_METRICS.map((m) => `"${m}"`).join(' or ')),
            samples: count(ev, 'samples', 'evaluation.'),
            active: num(ev, 'active', 'evaluation.', 0, 1, true),
            candidate: num(ev, 'candidate', 'evaluation.', 0, 1, true),
            error: ev['error'] === null ? null : typeof ev['error'] === 'string' && ev['error'].length <= 1000 ? ev['error'] : bad('evaluation.error', 'a string of at most 1000 characters or null'),
          },
  };
}

export function encodeUpdateReport(r: UpdateReportMessage): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(r));
}

export function decodeUpdateReport(bytes: Uint8Array): UpdateReportMessage {
  const v = json(bytes, 'update report');
  const str = (k: string, nullable: boolean): string | null => {
    const x = v[k];
    if (typeof x === 'string' || (nullable && x === null)) return x;
    throw new ProtocolError('E_PAYLOAD_INVALID', `update report.${k}: expected a string${nullable ? ' or null' : ''}`);
  };
  if (!(STEPS as readonly unknown[]).includes(v['step'])) throw new ProtocolError('E_PAYLOAD_INVALID', `update report.step: expected one of ${STEPS.join(', ')}`);
  if (v['outcome'] !== 'ok' && v['outcome'] !== 'refused' && v['outcome'] !== 'failed') throw new ProtocolError('E_PAYLOAD_INVALID', 'update report.outcome: expected ok, refused or failed');
  if (!(v['release'] === null || Number.isInteger(v['release']))) throw new ProtocolError('E_PAYLOAD_INVALID', 'update report.release: expected an integer or null');
  if (typeof v['ts'] !== 'number') throw new ProtocolError('E_PAYLOAD_INVALID', 'update report.ts: expected a number');
  const base: UpdateReportMessage = { gw: str('gw', false) as string, model: str('model', true), target: str('target', false) as string, release: v['release'] as number | null, version: str('version', true), step: v['step'] as UpdateReportMessage['step'], outcome: v['outcome'] as UpdateReportMessage['outcome'], reason: str('reason', true), ts: v['ts'] };
  return v['shadow'] === undefined || v['shadow'] === null ? base : { ...base, shadow: parseShadowSummary(v['shadow'], 'update report.shadow') };
}
