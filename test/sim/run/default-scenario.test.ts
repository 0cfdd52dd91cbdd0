import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadScenario } from '../../../sim/scenario/index.js';
import { runScenario, type RunResult } from '../../../sim/run/run-scenario.js';
import { seedFleetDatabase } from '../../support/pglite-template.js';
import { makeTempDir } from '../../support/temp-dir.js';

/**
 * What `npm start` runs, whole, as the test of the simulator: six gateways (three of
 * them real processes, one with a camera), every fault, two rollouts and a learning round in
 * 90 s of real time. The bars are the issue's: nothing lost, the bad release stopped at its
 * gate, the good one everywhere, the sensor faults alerted (recall >= 0.9, precision >= 0.8),
 * the defective parts reported (recall >= 0.9), the Byzantine update kept out.
 */
describe('the default scenario', () => {
  let dir: Awaited<ReturnType<typeof makeTempDir>>;
  let r: RunResult;
  const lines: string[] = [];

  beforeAll(async () => {
    dir = await makeTempDir('edgewise-sim-default-');
    const scenario = await loadScenario(join(process.cwd(), 'sim/scenarios/default.yaml'));
    await seedFleetDatabase(join(dir.path, 'data', 'fleet'));
    r = await runScenario(scenario, { dataDir: join(dir.path, 'data'), reportDir: join(dir.path, 'report'), progress: (l) => lines.push(l) });
  }, 420_000);
  afterAll(async () => dir?.remove());

  it('plays every part of the scenario: nothing left out', () => {
    expect(r.card.gateways.map((g) => g.gatewayId)).toEqual(['press-1', 'press-2', 'vision-1', 'pack-1', 'pack-2', 'archive-1']);
    // Every fault is on the timeline with its time.
    expect(new Set(r.card.disruptions.map((d) => d.kind))).toEqual(new Set(['broker-outage', 'cable-pull', 'partition', 'kill']));
  });

  it('loses and duplicates nothing through the outage, the partition, the kill -9 and the pulled cable', () => {
    const t = r.card.totals.delivery;
    expect(t.lost, r.table).toBe(0);
    // Delivery is at least once (MQTT QoS 1): a record whose PUBACK an outage or a kill cut is
    // sent again, and the fleet stores alerts and events once per record id. Those resends are
    // counted; they stay a handful, never a replay of the outbox.
    expect(t.duplicated, r.table).toBeLessThanOrEqual(Math.ceil(t.delivered * 0.01));
    expect(t.samples?.missing, r.table).toBe(0);
    expect(t.samples?.duplicated, r.table).toBe(0);
    // The full disk: the archive's tiny budget evicted telemetry, counted, not lost.
    const archive = r.card.gateways.find((g) => g.gatewayId === 'archive-1');
    expect(archive?.delivery.evicted, r.table).toBeGreaterThan(0);
  });

  it('stops the bad release at its first gate and takes the good one to every selected gateway', () => {
    const bad = r.card.rollouts.find((x) => x.release === 'bad');
    const good = r.card.rollouts.find((x) => x.release === 'good');
    expect(bad?.ok, `${bad?.problems.join('; ')}\n${r.table}`).toBe(true);
    // Waves count from 0 here: the canary's wave.
    expect(bad?.gateFailedAtWave, r.table).toBe(0);
    expect(good?.ok, `${good?.problems.join('; ')}\n${r.table}`).toBe(true);
    expect(good?.state, r.table).toBe('completed');
    expect(r.card.rolloutOk).toBe(true);
  });

  it('alerts on the injected sensor faults and hardly anywhere else', () => {
    const a = r.card.totals.alerts;
    expect(a.faults, r.table).toBe(4);
    expect(a.recall, r.table).toBeGreaterThanOrEqual(0.9);
    expect(a.precision, r.table).toBeGreaterThanOrEqual(0.8);
  });

  it('reports the defective parts on the belt', () => {
    const d = r.card.totals.defects;
    expect(d.parts, r.table).toBeGreaterThan(0);
    expect(d.recall, r.table).toBeGreaterThanOrEqual(0.9);
  });

  it('closes the learning round with the Byzantine update kept out', () => {
    expect(r.card.learning?.ok, `${r.card.learning?.problems.join('; ')}\n${r.table}`).toBe(true);
    expect(r.card.learningOk).toBe(true);
  });

  it('ends with the JSON line, the report, and the console URL said while it ran', async () => {
    const json = JSON.parse(r.line) as Record<string, unknown>;
    expect(json).toMatchObject({ bench: 'sim', lost: 0, rollout_ok: true, learning_ok: true });
    expect(lines.some((l) => /console http:\/\/127\.0\.0\.1:\d+\//.test(l))).toBe(true);
    const html = await readFile(r.report.htmlPath, 'utf8');
    for (const id of ['press-1', 'vision-1', 'archive-1']) expect(html).toContain(id);
  });
});
