import fc from 'fast-check';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { AnomalyStage } from '../../../models/anomaly/anomaly-stage.js';
import { ANOMALY_DEFAULTS } from '../../../models/anomaly/index.js';
import { explainMax } from '../../../models/anomaly/explanation.js';
import { EventLog } from '../../../runtime/health/events.js';
import type { RecordInput } from '../../../runtime/pipeline/record.js';
import { defaultBackend } from '../../support/inference-backend.js';

const score = fc.oneof(fc.double({ min: 0, max: 1, noNaN: true }), fc.constantFrom(0, 1, Number.NaN, -0.5));

describe('explainMax', () => {
  it('gives non-negative contributions that sum to the score, the highest channel score', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string({ minLength: 1, maxLength: 8 }), score, { minKeys: 1, maxKeys: 12 }), (scores) => {
        const { score: s, contributions } = explainMax(scores);
        const finite = Object.values(scores).filter((v) => Number.isFinite(v) && v > 0);
        expect(s).toBe(Math.max(0, ...finite));
        const values = Object.values(contributions);
        expect(Object.keys(contributions).sort()).toEqual(Object.keys(scores).sort());
        for (const v of values) expect(v).toBeGreaterThanOrEqual(0);
        expect(values.reduce((a, b) => a + b, 0)).toBeCloseTo(s, 9);
      }),
    );
  });
});

describe('the streaming stage explains every score it reports', () => {
  it('per-channel contributions are non-negative, sum to the reported peak and carry units', async () => {
    const channels = ['a', 'b', 'c'];
    let alertsSeen = 0;
    const record = fc.record({ dt: fc.integer({ min: 1, max: 5000 }), values: fc.array(fc.oneof(fc.double({ min: -1e6, max: 1e6, noNaN: true }), fc.constant(Number.NaN)), { minLength: 3, maxLength: 3 }) });
    await fc.assert(
      fc.asyncProperty(fc.array(record, { minLength: 1, maxLength: 400 }), async (points) => {
        const stage = new AnomalyStage(
          { detector: 'streaming', smoothingMs: 0, channels: undefined, modelName: undefined, modelVersion: undefined, alert: { ...ANOMALY_DEFAULTS.alert, minDurationMs: 0 }, scoreEveryMs: 1, autoencoder: { ...ANOMALY_DEFAULTS.autoencoder }, backend: defaultBackend() },
          '/tmp/edgewise-test-no-state',
          { append: async () => undefined },
          new EventLog(pino({ level: 'silent' }), new Registry()).for('test'),
        );
        let ts = 0;
        const out: RecordInput[] = [];
        // A quiet start past the warm-up, so the random points that follow are news and raise alerts.
        const quiet = Array.from({ length: 200 }, (_, i) => ({ dt: 1000, values: [Math.sin(i / 5), Math.cos(i / 7), 1 + (i % 3) / 10] }));
        for (const p of [...quiet, ...points]) {
          ts += p.dt;
          const values = Object.fromEntries(channels.map((c, i) => [c, [p.values[i] as number]]));
          out.push(...(await stage.process([{ stream: 's', class: 'telemetry', ts, data: { values, units: { a: 'mm/s', b: '°C', c: 'A' } } }])));
        }
        out.push(...(await stage.flush()));
        for (const r of out.filter((x) => x.stream === 's.anomaly')) {
          const d = r.data as { peakScore: number; explanation: Record<string, number> };
          expect(d.peakScore).toBeGreaterThanOrEqual(0);
          expect(d.peakScore).toBeLessThan(1);
          const sum = Object.values(d.explanation).reduce((x, y) => (expect(y).toBeGreaterThanOrEqual(0), x + y), 0);
          expect(sum).toBeCloseTo(d.peakScore, 9);
        }
        const alerts = out.filter((x) => x.class === 'alert');
        alertsSeen += alerts.length;
        for (const r of alerts) {
          const d = r.data as { peakScore: number; explanation: Record<string, { contribution: number; unit: string }> };
          const sum = Object.values(d.explanation).reduce((x, y) => x + y.contribution, 0);
          expect(sum).toBeCloseTo(d.peakScore, 9);
          for (const [c, e] of Object.entries(d.explanation)) expect(e.unit).toBe({ a: 'mm/s', b: '°C', c: 'A' }[c]);
        }
        await stage.stop();
      }),
      { numRuns: 60 },
    );
    expect(alertsSeen, 'the property saw alerts to check').toBeGreaterThan(0);
  });
});
