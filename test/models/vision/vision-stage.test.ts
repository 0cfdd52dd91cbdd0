import { pino } from 'pino';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { visionStagePlugin } from '../../../models/vision/index.js';
import type { VisionStage } from '../../../models/vision/vision-stage.js';
import { EventLog } from '../../../runtime/health/events.js';
import { packedLayout, type RawFrame } from '../../../runtime/pipeline/frame.js';
import type { RecordInput } from '../../../runtime/pipeline/record.js';
import type { DecisionEntry } from '../../../runtime/store/decision-log.js';
import { ConveyorScene, type ConveyorFrame } from '../../../sim/camera/index.js';

const W = 640;
const H = 360;
const FPS = 10;
const T0_US = Date.UTC(2026, 10, 24) * 1000;

function toRaw(f: ConveyorFrame): RawFrame {
  const { layout, size } = packedLayout('I420', f.width, f.height);
  const data = new Uint8Array(size);
  data.set(f.y, 0);
  data.set(f.u, (layout[1] as { offset: number }).offset);
  data.set(f.v, (layout[2] as { offset: number }).offset);
  return { format: 'I420', width: f.width, height: f.height, data, layout, timestampUs: T0_US + Math.round((f.index * 1e6) / FPS) };
}

describe('vision stage on the simulated conveyor (decoded frames, no codec)', () => {
  it('reports one defect event per defective part that crossed, with the model, and runs inference only on frames with motion', async () => {
    const decisions: DecisionEntry[] = [];
    const stage = (await visionStagePlugin.create({ type: 'vision' }, { gatewayId: 'gw', stateDir: '/tmp/none', decisions: { append: async (e) => void decisions.push(e) }, events: new EventLog(pino({ level: 'silent' }), new Registry()).for('vision') })) as VisionStage;
    const scene = new ConveyorScene({ width: W, height: H, fps: FPS, seed: 11, stillShare: 0.5, stillPeriodS: 10 });
    const seenWhole = new Map<number, string>();
    const out: RecordInput[] = [];
    let moving = 0;
    const frames = 60 * FPS;
    for (let i = 0; i < frames; i += 1) {
      const f = scene.next();
      if (f.moving) moving += 1;
      for (const p of f.parts) if (p.visible >= 0.99) seenWhole.set(p.id, p.defect);
      out.push(...(await stage.process([{ stream: 'cam-1', class: 'telemetry', ts: f.timestampUs / 1000, data: { frame: toRaw(f) } }])));
    }
    out.push(...(await stage.flush()));
    const stats = stage.stats();
    await stage.stop();

    const defective = [...seenWhole.values()].filter((d) => d !== 'none').length;
    const defects = out.filter((r) => (r.data as { event?: string }).event === 'defect');
    expect(defective).toBeGreaterThanOrEqual(5);
    expect(Math.abs(defects.length - defective)).toBeLessThanOrEqual(Math.max(1, Math.round(defective * 0.2)));
    for (const d of defects) {
      expect(d.stream).toBe('cam-1.events');
      expect(d.class).toBe('result');
      expect((d.data as { model: { version: string; hash: string } }).model).toMatchObject({ name: 'defect-detector', version: '1.0.0' });
      const crop = (d.data as { crop?: { png: Uint8Array } }).crop;
      expect(Array.from(crop?.png.subarray(1, 4) ?? [])).toEqual([0x50, 0x4e, 0x47]); // "PNG"
    }
    expect(decisions.filter((e) => e.kind === 'decision')).toHaveLength(defects.length);
    // No frame records come out: frames are consumed.
    expect(out.every((r) => r.stream === 'cam-1.events')).toBe(true);
    const inferredShare = (stats['inferred'] as number) / frames;
    expect(inferredShare).toBeLessThanOrEqual(moving / frames + 0.05);
    expect(stats['gatedOut']).toBeGreaterThan(frames * 0.3);
  }, 120_000);
});
