import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FAULT_KINDS } from '../../../sim/mcu/signals.js';
import { evaluateMotor } from '../../../sim/anomaly/motor-eval.js';
import { summarise } from '../../../sim/anomaly/motor-summary.js';
import { CLI } from '../../support/gateway-process.js';

const EVAL_CLI = join(CLI, '..', '..', 'sim', 'anomaly', 'eval-detectors.js');

describe('eval:motor', () => {
  it('measures the streaming detector catching stuck and spikes on the right channel, with no false alert in 10 minutes', async () => {
    const lines: string[] = [];
    const results = await evaluateMotor({ seeds: [1], minutesNormal: 10, detectors: ['streaming'], faults: ['stuck', 'spikes'], loadChange: false, progress: (l) => lines.push(l) });
    expect(lines).toHaveLength(3);
    expect(results.normal).toEqual([{ detector: 'streaming', seed: 1, hours: 10 / 60, alerts: 0, atMinutes: [] }]);
    for (const kind of ['stuck', 'spikes'] as const) {
      const r = results.faults.find((f) => f.kind === kind);
      expect(r?.caught, kind).toBe(true);
      expect(r?.rightChannel, kind).toBe(true);
      expect(r?.delayS, kind).toBeGreaterThanOrEqual(0);
      expect(r?.how, kind).toBe('raised');
      expect(r?.peakScore, kind).toBeGreaterThanOrEqual(0.4);
    }

    const summary = JSON.parse(JSON.stringify(summarise(results, { seeds: 1, minutesNormal: 10 }))) as Record<string, unknown>;
    expect(Object.keys(summary)).toEqual(['bench', 'seeds', 'minutes_normal', 'streaming', 'autoencoder', 'weak_fault']);
    expect(summary['bench']).toBe('motor');
    const s = summary['streaming'] as Record<string, unknown>;
    expect(s).toMatchObject({ caught: 2, of: 2, right_channel: 2, false_alerts_per_h: 0, load_change: { runs: 0 } });
    expect(Object.keys(s['median_delay_s'] as object)).toEqual([...FAULT_KINDS]);
    expect((s['median_delay_s'] as Record<string, unknown>)['stuck']).toEqual(expect.any(Number));
    expect((s['median_delay_s'] as Record<string, unknown>)['drift']).toBeNull();
    expect(summary['autoencoder']).toMatchObject({ caught: 0, of: 0 });
  }, 60_000);

  it('refuses a seed count that is not a whole number of at least 1, saying which option', () => {
    const r = spawnSync(process.execPath, [EVAL_CLI, '--seeds', '0'], { encoding: 'utf8' });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain('--seeds must be a whole number');
    expect(r.stdout).toBe('');
  });
});
