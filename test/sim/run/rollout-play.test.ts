import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../../../runtime/config/load.js';
import { builtinRegistry } from '../../../runtime/plugins.js';
import { FLEET_MODEL, fromFleetModel } from '../../../sim/run/fleet-model.js';
import { gatewayYaml, MCU_DEVICE_ID } from '../../../sim/run/gateway-yaml.js';
import { runScenario } from '../../../sim/run/index.js';
import { parseScenario } from '../../../sim/scenario/index.js';
import { seedFleetDatabase } from '../../support/pglite-template.js';
import { makeTempDir } from '../../support/temp-dir.js';

/**
 * Three gateways in this process: two motors (simulated MCUs) labelled sensors=motor, which run
 * the fleet's autoencoder from its signed releases, and a synthetic load that no rollout selects.
 * A broken release (its model does not give its signed golden output) is rolled out first and
 * must stop at the canary's gate; then a good one, due while the broker is away (its canary
 * offline: the play waits for it), must reach both motors, wave by wave.
 */
const TINY_ROLLOUT = `
name: tiny-rollout
seed: 5
duration: 24s
gateways:
  - group: motor
    count: 2
    labels: { sensors: motor }
    mcu: { rateHz: 100 }
  - group: load
    synthetic: { rateHz: 10, channels: 1 }
faults:
  - { kind: broker-outage, at: 8s, duration: 2s }
rollouts:
  - { release: bad, at: 2s, waves: '1, 100%', selector: sensors=motor }
  - { release: good, at: 9s, waves: '1, 100%', selector: sensors=motor }
`;

describe('the fleet model on the MCU gateways', () => {
  it('runs after the streaming detector in the motor pipeline, and its alerts are told apart by their model name', () => {
    const group = { group: 'press', count: 1, site: 'plant-1', labels: {}, mode: 'in-process' as const, mcu: { rateHz: 100 }, camera: null, synthetic: null, storeBudgetBytes: 1 << 20 };
    const provisioned = 'uplink: { url: mqtt://127.0.0.1:1883, clientId: gw-press-1, username: press-1, password: x }\nupdates: { metadataUrl: http://127.0.0.1:1/metadata, targetBaseUrl: http://127.0.0.1:1/targets, rootFile: /tmp/root.json, models: [] }';
    const config = parseConfig(gatewayYaml({ id: 'press-1', group, dataDir: '/tmp/x', serialPath: '/tmp/x.tty', provisioned, seed: 1, fleetModel: true }), 'sim', builtinRegistry());
    const stages = (config.pipelines.find((p) => p.source === MCU_DEVICE_ID)?.stages ?? []).map((s) => s.config as { detector?: string; model?: { name?: string }; autoencoder?: { managed?: string } });
    expect(stages.map((s) => s.detector)).toEqual(['streaming', 'autoencoder']);
    expect(stages[1]).toMatchObject({ model: { name: FLEET_MODEL }, autoencoder: { managed: FLEET_MODEL } });
    // Without it the pipeline is the streaming detector alone, as before.
    const plain = parseConfig(gatewayYaml({ id: 'press-1', group, dataDir: '/tmp/x', serialPath: '/tmp/x.tty', provisioned, seed: 1 }), 'sim', builtinRegistry());
    expect(plain.pipelines.find((p) => p.source === MCU_DEVICE_ID)?.stages).toHaveLength(1);
    // An alert's data as each stage writes it.
    expect(fromFleetModel({ alert: 1, detector: 'autoencoder', model: { name: FLEET_MODEL, version: 'seed5-w16', hash: 'sha256:00' } })).toBe(true);
    expect(fromFleetModel({ alert: 1, detector: 'streaming', model: { name: 'streaming-anomaly', version: '1' } })).toBe(false);
    expect(fromFleetModel(null)).toBe(false);
  });
});

describe('rollouts in a simulated run', () => {
  let cleanup: (() => Promise<void>) | undefined;
  afterEach(async () => {
    await cleanup?.();
    cleanup = undefined;
  });

  it('stops the bad release at the canary gate and takes the good one to every selected gateway; rollout_ok', async () => {
    const dir = await makeTempDir('edgewise-sim-rollout-');
    cleanup = dir.remove;
    const lines: string[] = [];
    await seedFleetDatabase(join(dir.path, 'data', 'fleet'));
    const r = await runScenario(parseScenario(TINY_ROLLOUT, 'tiny-rollout.yaml'), { dataDir: join(dir.path, 'data'), reportDir: join(dir.path, 'report'), progress: (l) => lines.push(l) });
    const why = `${r.table}\n${lines.join('\n')}`;

    const [bad, good] = r.card.rollouts;
    expect(bad, why).toMatchObject({ release: 'bad', state: 'aborted', gateFailedAtWave: 0, ok: true });
    // The canary refused it; the other motor was never told.
    expect(bad?.waves, why).toEqual([
      { total: 1, active: 0, failed: 1, reverted: 0, reached: 1 },
      { total: 1, active: 0, failed: 0, reverted: 0, reached: 0 },
    ]);
    expect(good, why).toMatchObject({ release: 'good', state: 'completed', gateFailedAtWave: null, ok: true });
    expect(good?.waves.map((w) => [w.total, w.active]), why).toEqual([
      [1, 1],
      [1, 1],
    ]);
    expect(r.card.rolloutOk, why).toBe(true);
    expect(JSON.parse(r.line)).toMatchObject({ rollout_ok: true });

    // Each decision was said as it happened.
    expect(lines.some((l) => /rollout bad .*gate failed at wave 1: failure 1/.test(l)), why).toBe(true);
    // Refused by the canary's health check: its model does not give the signed golden output.
    expect(lines.some((l) => /rollout bad .*: motor-\d: health refused: E_UPDATE_GOLDEN/.test(l)), why).toBe(true);
    expect(lines.some((l) => /rollout good .*wave 2 passed its gates/.test(l)) && lines.some((l) => /rollout good .*: completed/.test(l)), why).toBe(true);
    // Nothing was lost for it.
    expect(r.card.totals.delivery.lost, why).toBe(0);
  }, 120_000);
});
