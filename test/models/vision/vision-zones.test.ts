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
import { defaultBackend } from '../../support/inference-backend.js';
import { colourDetector, frame, H, W, type Square } from './colour-squares.js';

/**
 * Named zones through the whole vision stage (the colour-squares detector, motion gate on):
 * the frame is split into `intake` (left half, the first zone) and `outfeed` (right half).
 * Red crosses both, left to right, frames 0..29 (centre x 36 + 8f: in intake up to frame 15).
 * Blue, lower down, moves within outfeed only, frames 3..10 (centre x 284 down to 228), so it
 * never enters the first zone. Red is the defect class. The squares have some green, which the
 * detector ignores, because the motion gate reads an RGBA frame's green bytes as its luma.
 */
const RED_LAST = 29;
const BLUE_FIRST = 3;
const BLUE_LAST = 10;
const red = (f: number): Square => ({ x: 16 + 8 * f, y: 40, rgb: [255, 160, 0] });
const blue = (f: number): Square => ({ x: 264 - 8 * (f - BLUE_FIRST), y: 120, rgb: [0, 160, 255] });
const HALF = W / 2;

type Data = Record<string, unknown>;
type ZoneRecord = { zone: string; entered: Data; present: Data };

describe('vision stage: named zones', () => {
  let dir: string;
  let modelPath: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'edgewise-zones-'));
    modelPath = join(dir, 'colour-squares.onnx');
    await writeFile(modelPath, colourDetector());
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('names each zone in the zone records, the health details and the entered, left and defect events (entered: the first zone)', async () => {
    const stage = (await visionStagePlugin.create(
      {
        type: 'vision',
        model: { path: modelPath },
        classNames: ['red', 'blue'],
        defectClass: 'red',
        confidence: 0.5,
        zones: [
          {
            name: 'intake',
            points: [
              [0, 0],
              [HALF, 0],
              [HALF, H],
              [0, H],
            ],
          },
          {
            name: 'outfeed',
            points: [
              [HALF, 0],
              [W, 0],
              [W, H],
              [HALF, H],
            ],
          },
        ],
        tracker: { maxAgeMs: 500 },
        zoneCounts: { everyMs: 100 },
      },
      { backend: defaultBackend(), gatewayId: 'gw', stateDir: dir, decisions: { append: async () => undefined }, events: new EventLog(pino({ level: 'silent' }), new Registry()).for('vision') },
    )) as VisionStage;
    const out: RecordInput[] = [];
    try {
      for (let f = 0; f <= RED_LAST; f += 1) {
        const squares = f >= BLUE_FIRST && f <= BLUE_LAST ? [red(f), blue(f)] : [red(f)];
        out.push(...(await stage.process([{ stream: 'cam-1', class: 'telemetry', ts: 0, data: { frame: frame(f, squares) } }])));
      }
      out.push(...(await stage.flush()));
    } finally {
      await stage.stop();
    }
    const stats = stage.stats();
    // Something moves in one of the zones in every frame: the gate, given the named zones' polygons, lets them all through.
    expect(stats).toMatchObject({ frames: RED_LAST + 1, inferred: RED_LAST + 1, frameErrors: 0 });

    // Events: only red entered the first zone; its entered, defect and left name it. Blue, only ever in outfeed, makes none.
    const events = out.filter((r) => r.stream === 'cam-1.events').map((r) => r.data as Data);
    expect(events.map((e) => [e['event'], e['className'], e['zone']])).toEqual([
      ['entered', 'red', 'intake'],
      ['defect', 'red', 'intake'],
      ['left', 'red', 'intake'],
    ]);

    // Zone records name each zone, in the config's order: red entered both, blue only outfeed.
    const zones = out.filter((r) => r.stream === 'cam-1.zones').map((r) => (r.data as { zones: ZoneRecord[] }).zones);
    expect(zones.at(-1)).toEqual([
      { zone: 'intake', entered: { red: 1 }, present: {} },
      { zone: 'outfeed', entered: { red: 1, blue: 1 }, present: {} },
    ]);
    // While blue was in outfeed, red was in intake: each named where it was.
    expect(zones).toContainEqual([
      { zone: 'intake', entered: { red: 1 }, present: { red: 1 } },
      { zone: 'outfeed', entered: { blue: 1 }, present: { blue: 1 } },
    ]);
    // Then red crossed into outfeed.
    expect(zones).toContainEqual([
      { zone: 'intake', entered: { red: 1 }, present: {} },
      { zone: 'outfeed', entered: { red: 1, blue: 1 }, present: { red: 1 } },
    ]);

    expect(Object.fromEntries(Object.entries(stats).filter(([k]) => k.startsWith('zones.')))).toEqual({
      'zones.intake.entered': 1,
      'zones.intake.present': 0,
      'zones.outfeed.entered': 2,
      'zones.outfeed.present': 0,
    });
  }, 60_000);
});
