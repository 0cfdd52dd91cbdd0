import { defaultBackend } from '../../support/inference-backend.js';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { visionStagePlugin } from '../../../models/vision/index.js';
import type { VisionStage } from '../../../models/vision/vision-stage.js';
import { EventLog } from '../../../runtime/health/events.js';
import type { RecordInput } from '../../../runtime/pipeline/record.js';
import { colourDetector, frame, FRAME_US, H, SIDE, T0_US, W, type Square } from './colour-squares.js';

/**
 * Two objects of different classes cross through the whole vision stage (the colour-squares
 * detector): the red square passes in front of the blue one, and while it hides more than a
 * quarter of it, the blue square is not detected at all.
 *
 * Red: frames 0..29, left to right at 8 px a frame. Blue: frames 3..25, right to left, 8 px lower,
 * behind red; they meet around frame 17 (box IoU up to 0.67).
 */
const RED_LAST = 29;
const BLUE_FIRST = 3;
const BLUE_LAST = 25;
const red = (f: number): Square => ({ x: 16 + 8 * f, y: 80, rgb: [255, 0, 0] });
const blue = (f: number): Square => ({ x: 264 - 8 * (f - BLUE_FIRST), y: 88, rgb: [0, 0, 255] });

type Data = Record<string, unknown>;

describe('vision stage: two objects of different classes crossing (a detector built in the test)', () => {
  let dir: string;
  let modelPath: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'edgewise-crossing-'));
    modelPath = join(dir, 'colour-squares.onnx');
    await writeFile(modelPath, colourDetector());
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  // classAware: false shows the motion model alone keeps them apart (the class gate is not needed here).
  it.each([true, false])('reports two tracks with the right labels, left events with the right dwell, zone counts and sampled detections (classAware: %s)', async (classAware) => {
    const stage = (await visionStagePlugin.create(
      {
        type: 'vision',
        model: { path: modelPath },
        classNames: ['red', 'blue'],
        confidence: 0.5,
        motion: { enabled: false },
        zones: [
          [
            [0, 0],
            [W, 0],
            [W, H],
            [0, H],
          ],
        ],
        tracker: { maxAgeMs: 500, classAware },
        detections: { everyMs: 1000, maxDetections: 1 },
        zoneCounts: { everyMs: 1000 },
      },
      { backend: defaultBackend(), gatewayId: 'gw', stateDir: dir, decisions: { append: async () => undefined }, events: new EventLog(pino({ level: 'silent' }), new Registry()).for('vision') },
    )) as VisionStage;
    const out: RecordInput[] = [];
    const hidden: number[] = [];
    try {
      for (let f = 0; f <= RED_LAST; f += 1) {
        const squares = f >= BLUE_FIRST && f <= BLUE_LAST ? [blue(f), red(f)] : [red(f)];
        out.push(...(await stage.process([{ stream: 'cam-1', class: 'telemetry', ts: 0, data: { frame: frame(f, squares) } }])));
        const b = blue(f);
        const r = red(f);
        const covered = (Math.max(0, Math.min(b.x, r.x) + SIDE - Math.max(b.x, r.x)) * Math.max(0, Math.min(b.y, r.y) + SIDE - Math.max(b.y, r.y))) / (SIDE * SIDE);
        if (f >= BLUE_FIRST && f <= BLUE_LAST && covered > 0.25) hidden.push(f);
      }
      out.push(...(await stage.flush()));
    } finally {
      await stage.stop();
    }
    expect(hidden).toEqual([16, 17, 18]); // the blue square really is hidden for a while
    expect(stage.stats()['frameErrors']).toBe(0);

    const events = out.filter((r) => r.stream === 'cam-1.events').map((r) => r.data as Data);
    // The zone is a bare polygon: events and counts call it zone-0.
    expect(events.filter((e) => e['event'] === 'entered').map((e) => [e['className'], e['zone']])).toEqual([
      ['red', 'zone-0'],
      ['blue', 'zone-0'],
    ]);
    const left = events.filter((e) => e['event'] === 'left').sort((a, b) => (a['track'] as number) - (b['track'] as number));
    expect(left).toHaveLength(2);
    expect(left.map((e) => ({ zone: e['zone'], className: e['className'], labelChanged: e['labelChanged'], dwellMs: e['dwellMs'], firstTs: e['firstTs'] }))).toEqual([
      { zone: 'zone-0', className: 'red', labelChanged: false, dwellMs: RED_LAST * 100, firstTs: T0_US / 1000 },
      { zone: 'zone-0', className: 'blue', labelChanged: false, dwellMs: (BLUE_LAST - BLUE_FIRST) * 100, firstTs: T0_US / 1000 + BLUE_FIRST * 100 },
    ]);
    expect(left[1]?.['sightings']).toBe(BLUE_LAST - BLUE_FIRST + 1 - hidden.length);

    // Zone counts: each entered once, by class; nobody left in the zone once both are gone.
    const zones = out.filter((r) => r.stream === 'cam-1.zones').map((r) => r.data as { zones: { entered: Data; present: Data }[] });
    expect(zones.at(-1)?.zones).toEqual([{ zone: 'zone-0', entered: { red: 1, blue: 1 }, present: {} }]);
    expect(zones.some((z) => (z.zones[0]?.present['blue'] as number) === 1 && (z.zones[0]?.present['red'] as number) === 1)).toBe(true);
    expect(stage.stats()).toMatchObject({ 'zones.zone-0.entered': 2, 'zones.zone-0.present': 0 });

    // Raw detections: one record a second of frame time (3 s of frames: frames 0, 10, 20), the best detection of each.
    const sampled = out.filter((r) => r.stream === 'cam-1.detections');
    expect(sampled.map((r) => r.ts)).toEqual([0, 10, 20].map((f) => (T0_US + f * FRAME_US) / 1000));
    for (const r of sampled) {
      const d = r.data as { detections: { className: string; track: number | null }[]; total: number };
      expect(d.detections.length).toBe(1);
      expect(d.detections[0]?.track).not.toBeNull();
    }
    expect((sampled[1]?.data as { total: number }).total).toBe(2);
  }, 60_000);
});
