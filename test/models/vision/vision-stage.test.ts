import { pino } from 'pino';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { visionStagePlugin } from '../../../models/vision/index.js';
import { createVisionStage } from '../../../models/vision/stage-factory.js';
import { InferenceThread } from '../../../models/vision/thread/inference-thread.js';
import type { VisionStage } from '../../../models/vision/vision-stage.js';
import { EventLog } from '../../../runtime/health/events.js';
import { packedLayout, type RawFrame } from '../../../runtime/pipeline/frame.js';
import type { RecordInput } from '../../../runtime/pipeline/record.js';
import type { DecisionEntry } from '../../../runtime/store/decision-log.js';
import { ConveyorScene, type ConveyorFrame } from '../../../sim/camera/index.js';
import { defaultBackend, defaultBackendRecipe } from '../../support/inference-backend.js';
import { CapturingEventLog } from '../shadow-support.js';

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
    const stage = (await visionStagePlugin.create({ type: 'vision' }, { backend: defaultBackend(), gatewayId: 'gw', stateDir: '/tmp/none', decisions: { append: async (e) => void decisions.push(e) }, events: new EventLog(pino({ level: 'silent' }), new Registry()).for('vision') })) as VisionStage;
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

  it('labels every part by a class it was seen as (no class-1 for parts entering at the frame edge), closes each entered with a left whose label agrees with the defect judgement, and counts the zone', async () => {
    // Seed 21 is the gateway test's clip: before labels came from all sightings, 19 of its 24 entered events said class-1.
    const stage = (await visionStagePlugin.create(
      {
        type: 'vision',
        zones: [
          [
            [0, 0],
            [W, 0],
            [W, H],
            [0, H],
          ],
        ],
        detections: { everyMs: 1000, maxDetections: 3 },
        zoneCounts: { everyMs: 2000 },
      },
      { backend: defaultBackend(), gatewayId: 'gw', stateDir: '/tmp/none', decisions: { append: async () => undefined }, events: new EventLog(pino({ level: 'silent' }), new Registry()).for('vision') },
    )) as VisionStage;
    const scene = new ConveyorScene({ width: W, height: H, fps: FPS, seed: 21, stillShare: 0.5, stillPeriodS: 10 });
    const out: RecordInput[] = [];
    for (let i = 0; i < 60 * FPS; i += 1) out.push(...(await stage.process([{ stream: 'cam-1', class: 'telemetry', ts: 0, data: { frame: toRaw(scene.next()) } }])));
    out.push(...(await stage.flush()));
    const stats = stage.stats();
    await stage.stop();

    type Ev = { event: string; track: number; zone?: string; className: string; labelChanged?: boolean; enteredClassName?: string; dwellMs?: number; firstTs?: number; lastTs?: number; defective?: boolean };
    const events = out.filter((r) => r.stream === 'cam-1.events').map((r) => r.data as Ev);
    const entered = events.filter((e) => e.event === 'entered');
    const left = events.filter((e) => e.event === 'left');
    const defects = new Set(events.filter((e) => e.event === 'defect').map((e) => e.track));
    expect(entered.length).toBeGreaterThanOrEqual(20);
    for (const e of [...entered, ...left]) expect(['part', 'defective-part']).toContain(e.className);
    // The one zone is a bare polygon: every event of a track that entered it calls it zone-0.
    for (const e of events) if (e.event !== 'defect' || entered.some((x) => x.track === e.track)) expect(e.zone).toBe('zone-0');
    // Every entered is closed by one left, after it; its final label is the defect judgement's.
    expect(left.map((e) => e.track).sort()).toEqual(entered.map((e) => e.track).sort());
    for (const e of left) {
      expect(events.findIndex((x) => x.event === 'entered' && x.track === e.track)).toBeLessThan(events.indexOf(e));
      expect(e.className === 'defective-part').toBe(defects.has(e.track));
      expect(e.defective).toBe(defects.has(e.track));
      expect(e.dwellMs).toBe((e.lastTs as number) - (e.firstTs as number));
      expect(e.dwellMs).toBeGreaterThan(0);
      const at = entered.find((x) => x.track === e.track);
      expect(e.labelChanged).toBe(at?.className !== e.className);
      if (e.labelChanged === true) expect(e.enteredClassName).toBe(at?.className);
    }
    expect(defects.size).toBeGreaterThanOrEqual(4);

    // Zone counts follow the corrected labels: the last record counts each part under its left label.
    const byClass = (names: string[]): Record<string, number> => names.reduce<Record<string, number>>((m, n) => ({ ...m, [n]: (m[n] ?? 0) + 1 }), {});
    const zones = out.filter((r) => r.stream === 'cam-1.zones');
    expect((zones.at(-1)?.data as { zones: unknown[] }).zones).toEqual([{ zone: 'zone-0', entered: byClass(left.map((e) => e.className)), present: {} }]);
    expect(stats['zones.zone-0.entered']).toBe(entered.length);
    // Rate-limited to one record per 2 s of frame time (the last, at the end, may come sooner).
    for (let i = 1; i < zones.length - 1; i += 1) expect(zones[i]?.ts as number - (zones[i - 1]?.ts as number)).toBeGreaterThanOrEqual(2000);

    const sampled = out.filter((r) => r.stream === 'cam-1.detections');
    expect(sampled.length).toBeGreaterThanOrEqual(20); // the belt runs half the time: inferred frames in about 30 of the 60 seconds
    expect(sampled.length).toBeLessThanOrEqual(61);
    for (let i = 1; i < sampled.length; i += 1) expect(sampled[i]?.ts as number - (sampled[i - 1]?.ts as number)).toBeGreaterThanOrEqual(1000);
    for (const r of sampled) expect((r.data as { detections: unknown[] }).detections.length).toBeLessThanOrEqual(3);
  }, 120_000);

  it('runs inference in a worker thread by default; a worker that dies costs the frames it had (counted), is said, and the stage goes on in a new one', async () => {
    const events = new CapturingEventLog();
    const thread = new InferenceThread({ backend: defaultBackendRecipe(), events: events.for('vision'), restart: { minDelayMs: 10, maxDelayMs: 50 } });
    const stage = await createVisionStage({ type: 'vision', motion: { enabled: false } }, { backend: defaultBackend(), gatewayId: 'gw', stateDir: '/tmp/none', decisions: { append: async () => undefined }, events: events.for('vision') }, thread);
    const scene = new ConveyorScene({ width: W, height: H, fps: FPS, seed: 11 });
    const feed = async (n: number): Promise<RecordInput[]> => {
      const out: RecordInput[] = [];
      for (let i = 0; i < n; i += 1) {
        const f = scene.next();
        out.push(...(await stage.process([{ stream: 'cam-1', class: 'telemetry', ts: f.timestampUs / 1000, data: { frame: toRaw(f) } }])));
      }
      return out;
    };
    await feed(20);
    await stage.settled();
    expect(stage.stats()).toMatchObject({ inferenceThread: 'worker', frames: 20, inferred: 20, frameErrors: 0, workerRestarts: 0 });

    thread.crash();
    await feed(100);
    await stage.settled();
    const after = stage.stats();
    // The frames sent after the crash and before the worker was gone (at most the two in flight) failed; the rest ran in a new worker.
    expect(after['frameErrors']).toBeGreaterThanOrEqual(1);
    expect(after['frameErrors']).toBeLessThanOrEqual(2);
    expect(after).toMatchObject({ frames: 120, workerRestarts: 1, degraded: false });
    expect(after['inferred']).toBe(120 - (after['frameErrors'] as number));
    expect(events.seen.find((e) => e.event === 'vision.worker_exited')).toMatchObject({ level: 'warn', fields: { code: 'E_VISION_WORKER' } });
    expect(events.seen.filter((e) => e.event === 'vision.model_loaded').map((e) => e.fields['thread'])).toEqual(['worker', 'worker']);
    expect(events.seen.filter((e) => e.event === 'vision.frame_failed').length).toBe(after['frameErrors']);
    await stage.stop();
  }, 120_000);
});
