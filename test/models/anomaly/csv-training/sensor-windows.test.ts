import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SensorDataError } from '../../../../models/anomaly/csv-training/errors.js';
import { GAP_INTERVALS, prepareLogs, resample, sampleNormalWindows, scoredWindowEnds } from '../../../../models/anomaly/csv-training/sensor-windows.js';
import type { SensorLog } from '../../../../models/datasets/types.js';

const T0 = Date.UTC(2026, 10, 30);

/** A log at `intervalMs` with the given extra waits (gaps) and missing values, two channels. */
const logArb = fc
  .record({
    rows: fc.integer({ min: 2, max: 300 }),
    intervalMs: fc.constantFrom(5, 10, 20, 1000),
    gaps: fc.array(fc.tuple(fc.nat(), fc.integer({ min: 3, max: 50 })), { maxLength: 4 }),
    missing: fc.array(fc.nat(), { maxLength: 6 }),
    faults: fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 40 })), { maxLength: 3 }),
  })
  .map(({ rows, intervalMs, gaps, missing, faults }): SensorLog => {
    const ts = new Float64Array(rows);
    const values = new Float64Array(rows * 2);
    const labels = new Uint8Array(rows);
    let t = T0;
    for (let i = 0; i < rows; i += 1) {
      for (const [at, times] of gaps) if (i > 0 && at % rows === i) t += times * intervalMs;
      ts[i] = t;
      t += intervalMs;
      values[2 * i] = Math.sin(i);
      values[2 * i + 1] = i;
    }
    for (const m of missing) values[2 * (m % rows)] = Number.NaN;
    for (const [at, length] of faults) labels.fill(1, at % rows, Math.min(rows, (at % rows) + length));
    return { file: 'p.csv', channels: ['a', 'b'], units: ['g', ''], timestampsMs: ts, values, rows, labels };
  });

describe('prepareLogs', () => {
  it('cuts at every gap and missing value and keeps every other row, in order', () => {
    fc.assert(
      fc.property(logArb, (log) => {
        const p = prepareLogs([log]);
        const interval = 1000 / p.rateHz;
        let rows = 0;
        for (const s of p.segments) {
          rows += s.rows;
          for (let i = 1; i < s.rows; i += 1) expect((s.timestampsMs[i] as number) - (s.timestampsMs[i - 1] as number)).toBeLessThanOrEqual(GAP_INTERVALS * interval);
          expect(s.values.every(Number.isFinite)).toBe(true);
        }
        const summary = p.logs[0];
        expect(rows).toBe(log.rows - (summary?.rowsWithoutValues ?? 0));
        // Every labelled run is a fault, with its first and last data row.
        for (const f of p.faults) {
          expect(log.labels?.[f.firstRow - 1]).toBe(1);
          expect(log.labels?.[f.lastRow - 1]).toBe(1);
          expect(f.lastRow === log.rows || log.labels?.[f.lastRow] === 0).toBe(true);
        }
      }),
    );
  });

  it('never trains on a window that holds an abnormal row or spans a gap', () => {
    fc.assert(
      fc.property(logArb, fc.integer({ min: 2, max: 16 }), (log, w) => {
        const p = prepareLogs([log]);
        const sample = sampleNormalWindows(p, w, Math.max(1, w >> 1), 10_000, 1);
        // Column b is the row index: a window's rows are consecutive rows of one segment, all labelled 0.
        for (let k = 0; k < sample.count; k += 1) {
          const first = sample.data[k * w * 2 + 1] as number;
          for (let t = 0; t < w; t += 1) {
            const row = sample.data[(k * w + t) * 2 + 1] as number;
            expect(row).toBe(first + t);
            expect(log.labels?.[row]).toBe(0);
          }
        }
      }),
    );
  });

  it('rejects bad logs only with SensorDataError', () => {
    const bad = fc.record({
      rows: fc.integer({ min: 0, max: 20 }),
      ts: fc.array(fc.double(), { minLength: 20, maxLength: 20 }),
      v: fc.array(fc.double(), { minLength: 40, maxLength: 40 }),
      labels: fc.option(fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 20, maxLength: 20 })),
    });
    fc.assert(
      fc.property(bad, ({ rows, ts, v, labels }) => {
        const log: SensorLog = { file: 'x.csv', channels: ['a', 'b'], units: ['', ''], rows, timestampsMs: Float64Array.from(ts.slice(0, rows)), values: Float64Array.from(v.slice(0, rows * 2)), labels: labels === null ? null : Uint8Array.from(labels.slice(0, rows)) };
        try {
          prepareLogs([log]);
        } catch (err) {
          expect(err).toBeInstanceOf(SensorDataError);
        }
      }),
    );
  });
});

describe('resample', () => {
  it('leaves a log at the target rate as it is, and interpolates one at another rate', () => {
    fc.assert(
      fc.property(fc.array(fc.double({ min: -100, max: 100, noNaN: true }), { minLength: 4, maxLength: 60 }), (xs) => {
        const ts = Float64Array.from(xs, (_, i) => T0 + 10 * i);
        const same = resample({ file: 'f', rows: xs.length, timestampsMs: ts, values: Float64Array.from(xs), labels: null }, 100, 1);
        expect(Array.from(same.values)).toEqual(xs);
        const doubled = resample({ file: 'f', rows: xs.length, timestampsMs: ts, values: Float64Array.from(xs), labels: null }, 200, 1);
        expect(doubled.rows).toBe(2 * xs.length - 1);
        for (let i = 0; i + 1 < xs.length; i += 1) {
          expect(doubled.values[2 * i]).toBe(xs[i]);
          expect(doubled.values[2 * i + 1]).toBeCloseTo(((xs[i] as number) + (xs[i + 1] as number)) / 2, 9);
        }
      }),
    );
  });
});

describe('scoredWindowEnds', () => {
  it('are the rows where the anomaly stage scores a window (its ring and stride, models/anomaly/anomaly-stage.ts)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 400 }), fc.integer({ min: 2, max: 64 }), fc.integer({ min: 1, max: 64 }), (rows, w, stride) => {
        // The stage's loop, row by row: the ring fills to w, a window every `stride` rows since the last.
        const stage: number[] = [];
        let ringCount = 0;
        let since = 0;
        for (let r = 0; r < rows; r += 1) {
          ringCount = Math.min(w, ringCount + 1);
          since += 1;
          if (ringCount === w && since >= stride) {
            since = 0;
            stage.push(r);
          }
        }
        expect(scoredWindowEnds(rows, w, stride)).toEqual(stage);
      }),
    );
  });
});
