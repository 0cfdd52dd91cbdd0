import { readFile } from 'node:fs/promises';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BUILTIN_DETECTOR_PATH, visionStagePlugin } from '../../../models/vision/index.js';
import type { VisionStage } from '../../../models/vision/vision-stage.js';
import { EventLog } from '../../../runtime/health/events.js';
import { packedLayout } from '../../../runtime/pipeline/frame.js';
import type { RecordInput } from '../../../runtime/pipeline/record.js';
import { ManagedModels } from '../../../runtime/updater/managed-models.js';
import { ModelSlots } from '../../../runtime/updater/slots.js';
import { ConveyorScene } from '../../../sim/camera/index.js';
import { makeTempDir } from '../../support/temp-dir.js';
import { defaultBackend } from '../../support/inference-backend.js';

describe('vision stage on a model installed by signed updates', () => {
  let dir: { path: string; remove: () => Promise<void> };
  beforeEach(async () => {
    dir = await makeTempDir();
  });
  afterEach(async () => {
    await dir.remove();
  });

  it('waits (degraded, still consuming frames) until a release is active, runs it, and switches when another is activated', async () => {
    const managed = new ManagedModels(dir.path);
    const stage = (await visionStagePlugin.create({ type: 'vision', model: { managed: 'belt-parts' }, classNames: ['part'], motion: { enabled: false } }, { backend: defaultBackend(), gatewayId: 'gw', stateDir: dir.path, decisions: { append: async () => undefined }, events: new EventLog(pino({ level: 'silent' }), new Registry()).for('v'), models: managed })) as VisionStage;
    const scene = new ConveyorScene({ width: 640, height: 360, fps: 10, seed: 3 });
    const frames = async (n: number): Promise<RecordInput[]> => {
      const out: RecordInput[] = [];
      for (let i = 0; i < n; i += 1) {
        const f = scene.next();
        const { layout, size } = packedLayout('I420', 640, 360);
        const data = new Uint8Array(size);
        data.set(f.y, 0);
        data.set(f.u, 640 * 360);
        data.set(f.v, 640 * 360 + 320 * 180);
        out.push(...(await stage.process([{ stream: 'cam', class: 'telemetry', ts: f.timestampUs / 1000, data: { frame: { format: 'I420', width: 640, height: 360, data, layout, timestampUs: 1e15 + f.timestampUs } } }])));
      }
      return out;
    };

    expect(await frames(5)).toEqual([]);
    expect(stage.stats()).toMatchObject({ degraded: true, frames: 5 });
    expect(String(stage.stats()['degradedReason'])).toMatch(/no signed release of belt-parts is active yet/);

    const bytes = await readFile(BUILTIN_DETECTOR_PATH());
    const slots = new ModelSlots(dir.path, 'belt-parts');
    const sha = (await import('node:crypto')).createHash('sha256').update(bytes).digest('hex');
    await slots.activate(await slots.install(bytes, { release: 1, version: '1.1' }), { release: 1, version: '1.1', sha256: sha });
    managed.changed('belt-parts');
    const first = await frames(40);
    // Frames are pipelined: the events of those still in inference on 1.1 belong to the first lot.
    await stage.settled();
    first.push(...(await stage.process([])));
    const models = (rs: RecordInput[]): string[] => [...new Set(rs.map((r) => (r.data as { model: { version: string } }).model.version))];
    expect(first.length).toBeGreaterThan(0);
    expect(models(first)).toEqual(['1.1']);
    expect(stage.stats()['degraded']).toBe(false);

    await slots.activate(await slots.install(bytes, { release: 2, version: '1.2' }), { release: 2, version: '1.2', sha256: sha });
    managed.changed('belt-parts');
    const second = await frames(60);
    expect(models(second)).toEqual(['1.2']);
    await stage.stop();
  }, 60_000);
});
