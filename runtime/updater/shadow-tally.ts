import type { ShadowEvaluation, ShadowSummary } from '../../fleet/protocol/update.js';
import type { ShadowSink } from '../pipeline/registry.js';

/** Latencies kept for the percentiles at most (a uniform sample of all runs beyond that). */
const LATENCY_SAMPLE = 2048;

/**
 * Adds up what stages report of a candidate running in shadow, in constant memory: counts,
 * running sums for the score correlation, and a bounded uniform sample of latencies.
 */
export class ShadowTally implements ShadowSink {
  private runs = 0;
  private errors = 0;
  private readonly latencies: number[] = [];
  /** Deterministic sampling (the same runs give the same percentiles). */
  private rng = 0x9e3779b9;
  private windows = 0;
  private agree = 0;
  private activeAlerting = 0;
  private candidateAlerting = 0;
  // Welford's running means and co-moments for Pearson's r of the two models' scores (stable for large scores).
  private n = 0;
  private mx = 0;
  private my = 0;
  private m2x = 0;
  private m2y = 0;
  private cxy = 0;
  private frames = 0;
  private activeDet = 0;
  private candidateDet = 0;
  private matched = 0;
  private sameClass = 0;
  private evaluated: ShadowEvaluation | null = null;
  private evaluations = 0;
  private readonly started: number;
  private waiter: (() => void) | undefined;

  constructor(
    readonly stages: number,
    private readonly now: () => number = Date.now,
  ) {
    this.started = now();
  }

  get inferences(): number {
    return this.runs;
  }

  /** Calls `f` after every run (a waiter on the run count). */
  onRun(f: (() => void) | undefined): void {
    this.waiter = f;
  }

  run(ok: boolean, ms: number): void {
    this.runs += 1;
    if (!ok) this.errors += 1;
    if (Number.isFinite(ms) && ms >= 0) {
      if (this.latencies.length < LATENCY_SAMPLE) this.latencies.push(ms);
      else {
        this.rng = (Math.imul(this.rng, 1664525) + 1013904223) >>> 0;
        const j = this.rng % this.runs;
        if (j < LATENCY_SAMPLE) this.latencies[j] = ms;
      }
    }
    this.waiter?.();
  }

  anomaly(active: { readonly score: number; readonly alerting: boolean }, candidate: { readonly score: number; readonly alerting: boolean }): void {
    this.windows += 1;
    if (active.alerting === candidate.alerting) this.agree += 1;
    if (active.alerting) this.activeAlerting += 1;
    if (candidate.alerting) this.candidateAlerting += 1;
    const x = active.score;
    const y = candidate.score;
    if (!Number.isFinite(x) || !Number.isFinite(y)) return;
    this.n += 1;
    const dx = x - this.mx;
    this.mx += dx / this.n;
    const dy = y - this.my;
    this.my += dy / this.n;
    this.m2x += dx * (x - this.mx);
    this.m2y += dy * (y - this.my);
    this.cxy += dx * (y - this.my);
  }

  vision(f: { readonly active: number; readonly candidate: number; readonly matched: number; readonly sameClass: number }): void {
    this.frames += 1;
    this.activeDet += f.active;
    this.candidateDet += f.candidate;
    this.matched += Math.min(f.matched, f.active, f.candidate);
    this.sameClass += Math.min(f.sameClass, f.matched);
  }

  /** Stages that reported an evaluation. */
  get evaluationsReported(): number {
    return this.evaluations;
  }

  /** Of several stages' evaluations, the worst for the candidate counts (an error worst of all). */
  evaluation(e: ShadowEvaluation): void {
    this.evaluations += 1;
    const margin = (x: ShadowEvaluation): number => (x.error !== null || x.candidate === null ? -Infinity : x.candidate - (x.active ?? x.candidate));
    if (this.evaluated === null || margin(e) < margin(this.evaluated)) this.evaluated = e;
    this.waiter?.();
  }

  summary(): ShadowSummary {
    const sorted = [...this.latencies].sort((a, b) => a - b);
    const pct = (p: number): number => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))] as number;
    const round = (v: number): number => Math.round(v * 1e6) / 1e6;
    return {
      stages: this.stages,
      inferences: this.runs,
      errors: this.errors,
      durationMs: Math.max(0, this.now() - this.started),
      latencyMs: sorted.length === 0 ? null : { p50: round(pct(0.5)), p99: round(pct(0.99)) },
      anomaly: this.windows === 0 ? null : { windows: this.windows, alertAgreement: round(this.agree / this.windows), activeAlerting: this.activeAlerting, candidateAlerting: this.candidateAlerting, scoreCorrelation: this.correlation() },
      vision:
        this.frames === 0
          ? null
          : {
              frames: this.frames,
              activeDetections: this.activeDet,
              candidateDetections: this.candidateDet,
              matched: this.matched,
              // Both found nothing: they agree.
              f1: this.activeDet + this.candidateDet === 0 ? 1 : round((2 * this.matched) / (this.activeDet + this.candidateDet)),
              classAgreement: this.matched === 0 ? null : round(this.sameClass / this.matched),
            },
      evaluation: this.evaluated,
    };
  }

  /** Pearson's r of the scores; null with fewer than two windows or a constant score. */
  private correlation(): number | null {
    if (this.n < 2) return null;
    // A constant score (up to rounding) says nothing about agreement.
    if (!(this.m2x > 1e-12 * this.n * Math.max(1, this.mx * this.mx)) || !(this.m2y > 1e-12 * this.n * Math.max(1, this.my * this.my))) return null;
    const r = this.cxy / Math.sqrt(this.m2x * this.m2y);
    return Number.isFinite(r) ? Math.round(Math.max(-1, Math.min(1, r)) * 1e6) / 1e6 : null;
  }
}
