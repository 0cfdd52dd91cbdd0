import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseScenario } from '../../../sim/scenario/index.js';
import { runScenario } from '../../../sim/run/index.js';
import { seedFleetDatabase } from '../../support/pglite-template.js';
import { makeTempDir } from '../../support/temp-dir.js';

/**
 * Two gateways in this process: a motor (simulated MCU on a socat pty pair) whose serial cable
 * is pulled for 2 s (the MCU keeps what it samples meanwhile and sends it after the restore)
 * and whose sensor then sticks (the streaming detector catches it within a second, from a cold
 * start), and a synthetic load, partitioned from the broker for 3 s (a blackhole); at the end
 * the broker is away from both for 2 s (every connection reset). Nothing may be lost.
 */
const TINY = `
name: tiny
seed: 3
duration: 20s
gateways:
  - group: motor
    mcu: { rateHz: 200 }
  - group: load
    synthetic: { rateHz: 20, channels: 2 }
faults:
  - { kind: cable-pull, at: 3s, duration: 2s, gateways: motor-1 }
  - { kind: partition, at: 4s, duration: 3s, gateways: load-1 }
  - { kind: sensor, fault: stuck, at: 8s, duration: 8s, gateways: motor-1 }
  - { kind: broker-outage, at: 17s, duration: 2s }
`;

describe('runScenario', () => {
  let cleanup: (() => Promise<void>) | undefined;
  afterEach(async () => {
    await cleanup?.();
    cleanup = undefined;
  });

  it('plays a tiny scenario end to end: nothing lost, the sensor fault alerted, the JSON line and the report written', async () => {
    const dir = await makeTempDir('edgewise-sim-run-');
    cleanup = dir.remove;
    const lines: string[] = [];
    await seedFleetDatabase(join(dir.path, 'data', 'fleet'));
    const r = await runScenario(parseScenario(TINY, 'tiny.yaml'), { dataDir: join(dir.path, 'data'), reportDir: join(dir.path, 'report'), progress: (l) => lines.push(l), progressEveryMs: 2000 });

    const t = r.card.totals;
    expect(t.delivery.lost, r.table).toBe(0);
    expect(t.delivery.delivered, r.table).toBeGreaterThan(50);
    // Both gateways delivered.
    for (const g of r.card.gateways) expect(g.delivery.delivered, `${g.gatewayId}\n${r.table}`).toBeGreaterThan(0);
    expect(r.card.gateways.map((g) => g.gatewayId)).toEqual(['motor-1', 'load-1']);
    // Every sample the MCU took arrived once, across the cable pull too: the run's end lets it send what it still held.
    expect(t.delivery.samples?.produced, r.table).toBeGreaterThan(3000);
    expect(t.delivery.samples?.missing, r.table).toBe(0);
    expect(t.delivery.samples?.duplicated, r.table).toBe(0);
    // The fault was injected (the MCU's log is the truth) and an alert answered it.
    const motor = r.card.gateways.find((g) => g.gatewayId === 'motor-1');
    expect(motor?.alerts.faults, r.table).toBe(1);
    expect(t.alerts.recall, r.table).toBe(1);
    expect(t.alerts.precision, r.table).toBe(1);

    // The pull, the partition and the outage are on the scorecard's timeline, with their times.
    expect(r.card.disruptions.map((d) => ({ kind: d.kind, gatewayIds: d.gatewayIds }))).toEqual([
      { kind: 'cable-pull', gatewayIds: ['motor-1'] },
      { kind: 'partition', gatewayIds: ['load-1'] },
      { kind: 'broker-outage', gatewayIds: ['motor-1', 'load-1'] },
    ]);
    const pull = r.card.disruptions[0];
    expect((pull?.endMs ?? 0) - (pull?.startMs ?? 0)).toBeGreaterThanOrEqual(1900);
    expect(lines.some((l) => /cable pulled on motor-1/.test(l)) && lines.some((l) => /cable restored on motor-1/.test(l))).toBe(true);

    const json = JSON.parse(r.line) as Record<string, unknown>;
    expect(Object.keys(json)).toEqual(['bench', 'lost', 'duplicated', 'delivered', 'alert_precision', 'alert_recall', 'defect_recall', 'rollout_ok', 'learning_ok', 'seconds']);
    expect(json).toMatchObject({ bench: 'sim', lost: 0, alert_recall: 1 });
    expect(json['delivered']).toBe(t.delivery.delivered);

    expect(lines.some((l) => /console http:\/\/127\.0\.0\.1:\d+\//.test(l))).toBe(true);
    expect(lines.some((l) => /fault stuck on motor-1/.test(l))).toBe(true);
    expect(lines.some((l) => /records delivered/.test(l))).toBe(true);
    expect(JSON.parse(await readFile(r.report.jsonPath, 'utf8'))).toMatchObject({ totals: { delivery: { lost: 0 } } });
    expect(await readFile(r.report.htmlPath, 'utf8')).toContain('motor-1');
  }, 120_000);
});
