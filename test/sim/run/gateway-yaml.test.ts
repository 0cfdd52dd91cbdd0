import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../../runtime/config/load.js';
import { builtinRegistry } from '../../../runtime/plugins.js';
import type { GatewayGroup } from '../../../sim/scenario/types.js';
import { CAMERA_DEVICE_ID } from '../../../sim/run/camera-yaml.js';
import { gatewayYaml, MCU_DEVICE_ID, SYNTHETIC_DEVICE_ID } from '../../../sim/run/gateway-yaml.js';
import { LEARNING_RESERVOIR_WINDOWS } from '../../../sim/run/learning-play.js';

/** Any group the scenario schema lets through (at least one of mcu, camera, synthetic). */
const group: fc.Arbitrary<GatewayGroup> = fc
  .record({
    mcu: fc.option(fc.record({ rateHz: fc.integer({ min: 1, max: 10_000 }) })),
    camera: fc.option(fc.record({ fps: fc.double({ min: 0.1, max: 60, noNaN: true }), width: fc.constant(320), height: fc.constant(240), defectShare: fc.double({ min: 0, max: 1, noNaN: true }) })),
    synthetic: fc.option(fc.record({ rateHz: fc.double({ min: 0.01, max: 10_000, noNaN: true }), channels: fc.integer({ min: 1, max: 64 }) })),
    storeBudgetBytes: fc.integer({ min: 65_536, max: 2 ** 40 }),
    mode: fc.constantFrom('process' as const, 'in-process' as const),
  })
  .filter((g) => g.mcu !== null || g.camera !== null || g.synthetic !== null)
  .map((g) => ({ group: 'press', count: 1, site: 'plant-1', labels: { line: 'press' }, ...g }));

const PROVISIONED = '# edgewise gateway press-1\nuplink:\n  url: mqtt://127.0.0.1:1883\n  clientId: gw-press-1\n  username: press-1\n  password: secret\n';

describe('gatewayYaml', () => {
  const registry = builtinRegistry();

  it('makes a config the gateway accepts for every group a scenario can have, with the devices the group asks for', () => {
    fc.assert(
      fc.property(group, fc.integer({ min: 0, max: 2 ** 32 - 1 }), (g, seed) => {
        const process = g.mode === 'process';
        const yaml = gatewayYaml({ id: 'press-1', group: g, dataDir: '/tmp/sim/press-1 data', serialPath: g.mcu === null ? null : '/tmp/sim/press-1-gw.tty', provisioned: PROVISIONED, seed, process });
        const config = parseConfig(yaml, 'sim', registry);
        // A process gateway logs at info (the supervisor waits for its gateway.started line) and serves its health report on a free port.
        expect(config.log.level).toBe(process ? 'info' : 'warn');
        expect(config.health.listen).toEqual(process ? { host: '127.0.0.1', port: 0 } : null);
        const ids = config.devices.map((d) => d.id);
        expect(ids.includes(MCU_DEVICE_ID)).toBe(g.mcu !== null);
        // A camera-only group given no camera feed gets a synthetic stand-in: a gateway always has a source.
        expect(ids.includes(SYNTHETIC_DEVICE_ID)).toBe(g.synthetic !== null || g.mcu === null);
        expect(config.store.maxSizeBytes).toBe(g.storeBudgetBytes);
        expect(config.uplink.username).toBe('press-1');
        // The MCU is watched by an anomaly stage; the synthetic load goes to the store as it is.
        const stages = (source: string): unknown[] => (config.pipelines.find((p) => p.source === source)?.stages ?? []).map((st) => (st as { type: string }).type);
        expect(stages(MCU_DEVICE_ID)).toEqual(g.mcu === null ? [] : ['anomaly']);
        expect(stages(SYNTHETIC_DEVICE_ID)).toEqual([]);
      }),
      { numRuns: 200 },
    );
  });

  it('gives a gateway of the learning round (with the run\'s repository) a learning section beside the fleet model\'s stage', () => {
    const updates = `${PROVISIONED}updates:\n  metadataUrl: http://127.0.0.1:1/metadata\n  targetBaseUrl: http://127.0.0.1:1/targets\n  rootFile: /tmp/sim/press-1/root.json\n  models: []\n`;
    fc.assert(
      fc.property(group.filter((g) => g.mcu !== null), fc.boolean(), (g, learning) => {
        const yaml = gatewayYaml({ id: 'press-1', group: g, dataDir: '/tmp/sim/press-1', serialPath: '/tmp/sim/press-1-gw.tty', provisioned: updates, seed: 1, process: g.mode === 'process', fleetModel: true, learning });
        const config = parseConfig(yaml, 'sim', registry);
        expect(config.learning).toEqual(learning ? { reservoirWindows: LEARNING_RESERVOIR_WINDOWS, heldOutShare: 0.2, maxChunkBytes: config.learning?.maxChunkBytes } : null);
        expect(config.pipelines.find((p) => p.source === MCU_DEVICE_ID)?.stages.map((st) => (st as { type: string }).type)).toEqual(['anomaly', 'anomaly']);
      }),
      { numRuns: 50 },
    );
  });

  it('gives a camera group its camera on the simulator\'s feed, watched by a vision stage, and no stand-in', () => {
    fc.assert(
      fc.property(group.filter((g) => g.camera !== null), fc.integer({ min: 1, max: 65_535 }), (g, port) => {
        const yaml = gatewayYaml({ id: 'press-1', group: g, dataDir: '/tmp/sim/d', serialPath: g.mcu === null ? null : '/tmp/sim/press-1-gw.tty', provisioned: PROVISIONED, seed: 1, process: g.mode === 'process', cameraAddress: `127.0.0.1:${port}` });
        const config = parseConfig(yaml, 'sim', registry);
        expect(config.devices.find((d) => d.id === CAMERA_DEVICE_ID)).toMatchObject({ type: 'camera', config: { input: { tcp: `127.0.0.1:${port}` } } });
        expect((config.pipelines.find((p) => p.source === CAMERA_DEVICE_ID)?.stages ?? []).map((st) => (st as { type: string }).type)).toEqual(['vision']);
        expect(config.devices.some((d) => d.id === SYNTHETIC_DEVICE_ID)).toBe(g.synthetic !== null);
      }),
      { numRuns: 50 },
    );
  });
});
