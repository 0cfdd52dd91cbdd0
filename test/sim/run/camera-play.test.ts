import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseScenario } from '../../../sim/scenario/index.js';
import { runScenario } from '../../../sim/run/index.js';
import { seedFleetDatabase } from '../../support/pglite-template.js';
import { makeTempDir } from '../../support/temp-dir.js';

/**
 * One camera gateway of mode `process`: the simulator renders the conveyor (half the parts
 * defective, so 20 s hold several), encodes it to H.264 and serves it live on TCP; the
 * gateway's camera source decodes it and its vision stage (the repo's defect detector and crop
 * classifier) sends a `defect` event per defective part. The gateway is cut off from the
 * broker twice (a 4 s partition, a 2 s outage): its events wait in its outbox and arrive after.
 */
const CAMERA = `
name: camera
seed: 11
duration: 20s
gateways:
  - group: vision
    mode: process
    camera: { fps: 5, width: 320, height: 240, defectShare: 0.5 }
faults:
  - { kind: partition, at: 5s, duration: 4s, gateways: vision-1 }
  - { kind: broker-outage, at: 13s, duration: 2s }
`;

describe('runScenario with a camera', () => {
  let cleanup: (() => Promise<void>) | undefined;
  afterEach(async () => {
    await cleanup?.();
    cleanup = undefined;
  });

  it('sends one defect event per defective part that left the camera\'s view, through a partition and an outage', async () => {
    const dir = await makeTempDir('edgewise-sim-camera-');
    cleanup = dir.remove;
    const lines: string[] = [];
    await seedFleetDatabase(join(dir.path, 'data', 'fleet'));
    const r = await runScenario(parseScenario(CAMERA, 'camera.yaml'), { dataDir: join(dir.path, 'data'), reportDir: join(dir.path, 'report'), progress: (l) => lines.push(l), progressEveryMs: 2000 });
    const why = `${r.table}\n${lines.join('\n')}`;

    const d = r.card.totals.defects;
    // The truth is the scene's: the defective parts that left the view by the window's end.
    expect(d.parts, why).toBeGreaterThanOrEqual(4);
    expect(d.recall, why).toBeGreaterThanOrEqual(0.9);
    expect(d.precision, why).toBeGreaterThanOrEqual(0.9);
    // Each matched event's last sighting is within a second of its part leaving the view (the scorer allows 1.5 s).
    for (const { part, event } of d.pairs) expect(Math.abs(event.lastSeenMs - part.leftViewMs), why).toBeLessThan(1000);
    // Every defect event came through the outbox across the cuts: nothing lost.
    expect(r.card.totals.delivery.lost, why).toBe(0);
    expect(r.card.disruptions.map((x) => x.kind)).toEqual(['partition', 'broker-outage']);
    const json = JSON.parse(r.line) as Record<string, unknown>;
    expect(json['defect_recall']).toBe(Number(d.recall.toFixed(3)));
    // The camera kept pace: every frame shown on time, none dropped for a slow reader.
    expect(lines.some((l) => /camera vision-1: \d+ frames shown \(0 late, 0 dropped/.test(l)), why).toBe(true);
    // The process gateway's RSS (ONNX Runtime and the decoder in it) is on the scorecard.
    expect(r.card.gateways[0]?.resources?.rssMaxMb, why).toBeGreaterThan(0);
  }, 120_000);
});
