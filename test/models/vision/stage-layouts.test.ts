import { writeFile } from 'node:fs/promises';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { visionStagePlugin } from '../../../models/vision/index.js';
import type { VisionStage } from '../../../models/vision/vision-stage.js';
import { EventLog } from '../../../runtime/health/events.js';
import { packedLayout, type RawFrame } from '../../../runtime/pipeline/frame.js';
import type { RecordInput } from '../../../runtime/pipeline/record.js';
import type { DecisionEntry } from '../../../runtime/store/decision-log.js';
import { makeTempDir } from '../../support/temp-dir.js';
import { brightness, constantOutputs, pythonNames, yolov8Output } from './layout-models.js';
import { defaultBackend } from '../../support/inference-backend.js';

const T0_US = Date.UTC(2026, 10, 30) * 1000;

function frame(i: number, luma: number, corrupt = false): RawFrame {
  const { layout, size } = packedLayout('I420', 160, 96);
  const data = new Uint8Array(size).fill(128);
  data.fill(luma, 0, 160 * 96);
  // A corrupt frame: its buffer ends before its last plane does (as a truncated decode would).
  return { format: 'I420', width: 160, height: 96, data: corrupt ? data.subarray(0, 1000) : data, layout, timestampUs: T0_US + i * 100_000 };
}

describe('vision stage: the decoder the model fits, on the live path', () => {
  let dir: { path: string; remove: () => Promise<void> };
  beforeAll(async () => {
    dir = await makeTempDir();
  });
  afterAll(async () => {
    await dir.remove();
  });

  async function stage(file: string, bytes: Uint8Array, extra: Record<string, unknown> = {}): Promise<{ stage: VisionStage; decisions: DecisionEntry[] }> {
    await writeFile(`${dir.path}/${file}`, bytes);
    const decisions: DecisionEntry[] = [];
    const s = (await visionStagePlugin.create(
      { type: 'vision', model: { path: `${dir.path}/${file}` }, motion: { enabled: false }, ...extra },
      { backend: defaultBackend(), gatewayId: 'gw', stateDir: dir.path, decisions: { append: async (e) => void decisions.push(e) }, events: new EventLog(pino({ level: 'silent' }), new Registry()).for('vision') },
    )) as VisionStage;
    return { stage: s, decisions };
  }

  const feed = async (s: VisionStage, frames: RawFrame[]): Promise<RecordInput[]> => {
    const out: RecordInput[] = [];
    for (const f of frames) out.push(...(await s.process([{ stream: 'cam', class: 'telemetry', ts: f.timestampUs / 1000, data: { frame: f } }])));
    return out;
  };

  it("a whole-frame classifier (its layout found from its output) makes `classified` events when the frames' class changes (not per frame), named from the metadata; the defect class is a decision", async () => {
    const { stage: s, decisions } = await stage('brightness.onnx', brightness(), { defectClass: "operator's hand" });
    // Bright, one dark frame (a waver: fewer than tracker.minHits = 2 in a row), bright, then dark for good.
    const lumas = [220, 220, 220, 20, 220, 220, 20, 20, 20, 20];
    const out = [...(await feed(s, lumas.map((l, i) => frame(i, l)))), ...(await s.flush())];
    const stats = s.stats();
    await s.stop();
    expect(stats).toMatchObject({ inferred: 10, frameErrors: 0, degraded: false });
    const events = out.map((r) => ({ stream: r.stream, ts: r.ts, ...(r.data as { event: string; className: string; previous: string | null }) }));
    expect(events.map((e) => [e.stream, e.event, e.className, e.previous])).toEqual([
      ['cam.events', 'classified', 'bright', null],
      ['cam.events', 'classified', "operator's hand", 'bright'],
    ]);
    // Each at the frame that made the change: the second of a run of two.
    expect(events.map((e) => e.ts)).toEqual([T0_US / 1000 + 100, T0_US / 1000 + 700]);
    expect((out[1]?.data as { top: { className: string; score: number }[] }).top.map((t) => t.className)).toEqual(["operator's hand", 'bright']);
    expect(decisions).toHaveLength(1);
    expect(decisions[0]).toMatchObject({ kind: 'decision', stream: 'cam', outcome: { event: 'classified', className: "operator's hand" } });
  });

  it('more than 5% of the last 100 inferred frames failing makes the stage degraded, saying why; it recovers when frames are fine again', async () => {
    const model = constantOutputs([1, 3, 96, 160], [yolov8Output(60, 2, [])], { names: pythonNames(['a', 'b']) });
    const { stage: s } = await stage('v8.onnx', model);
    let i = 0;
    const run = async (n: number, corruptEvery: number): Promise<void> => {
      const frames = Array.from({ length: n }, (_, k) => frame(i++, 100, corruptEvery > 0 && k % corruptEvery === 0));
      await feed(s, frames);
      await s.flush();
    };
    await run(100, 20); // 5 of 100: not more than 5%
    expect(s.stats()).toMatchObject({ frameErrors: 5, recentFrames: 100, recentFrameErrors: 5, degraded: false, degradedReason: null });
    await run(100, 10); // 10 of the last 100
    expect(s.stats()).toMatchObject({ frameErrors: 15, recentFrameErrors: 10, degraded: true });
    expect(s.stats()['degradedReason']).toMatch(/^10 of the last 100 inferred frames failed \(frame I420 160x96: plane 0 .* does not fit in 1000 bytes\)$/);
    await run(100, 0);
    expect(s.stats()).toMatchObject({ frameErrors: 15, recentFrameErrors: 0, degraded: false, degradedReason: null });
    await s.stop();
  });

  it('a model that fits no decoder is not run on any frame: the stage is degraded with the reason from the load', async () => {
    const { stage: s } = await stage('odd.onnx', constantOutputs([1, 3, 96, 160], [{ name: 'output0', dims: [2, 3, 4], data: new Float32Array(24) }]));
    await feed(s, [frame(0, 100), frame(1, 100)]);
    const stats = s.stats();
    await s.stop();
    expect(stats).toMatchObject({ frames: 2, inferred: 0, frameErrors: 0, degraded: true });
    expect(stats['degradedReason']).toMatch(/^model not loaded: vision model: outputs output0 \[2, 3, 4\] fit no vision layout/);
  });
});
