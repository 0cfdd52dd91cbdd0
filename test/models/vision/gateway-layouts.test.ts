import { writeFile } from 'node:fs/promises';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { decodeRecordMessage } from '../../../fleet/ingest/record-message.js';
import { fleetFilters, type WireRecord } from '../../../fleet/protocol/index.js';
import { parseConfig } from '../../../runtime/config/load.js';
import { Gateway } from '../../../runtime/gateway.js';
import { builtinRegistry } from '../../../runtime/plugins.js';
import { encodeH264 } from '../../../sim/video/encode-h264.js';
import { useGatewayRig } from '../../support/gateway-rig.js';
import { waitFor } from '../../support/wait-for.js';
import { brightness, constantOutputs, pythonNames, yolov8Output } from './layout-models.js';

const W = 160;
const H = 96;
const FRAMES = 20;

describe('camera -> vision -> fleet with models that name their own classes', () => {
  const rig = useGatewayRig();

  it("events at the fleet carry the names in the models' metadata: a YOLOv8 detector's and a whole-frame classifier's", async () => {
    // A detector that sees one "people's car" (class 1 of 3) in every frame, at input (= source) pixels 60..100 x 30..70.
    const detector = constantOutputs([1, 3, H, W], [yolov8Output(60, 3, [{ anchor: 7, cx: 80, cy: 50, w: 40, h: 40, classId: 1, score: 0.9 }])], { names: pythonNames(['person', "people's car", 'dog']) });
    await writeFile(`${rig.dir.path}/detector.onnx`, detector);
    await writeFile(`${rig.dir.path}/classifier.onnx`, brightness());
    const y = new Uint8Array(W * H).fill(220);
    const uv = new Uint8Array((W / 2) * (H / 2)).fill(128);
    await writeFile(`${rig.dir.path}/clip.h264`, await encodeH264({ width: W, height: H, framerate: 10, frames: FRAMES, picture: () => ({ y, u: uv, v: uv }) }));
    const camera = (id: string): string => `  - { id: ${id}, type: camera, input: { file: ${JSON.stringify(`${rig.dir.path}/clip.h264`)} }, streamFps: 10, realtime: false }\n`;
    const pipeline = (id: string, model: string): string => `  - id: ${id}\n    source: ${id}\n    queue: { maxRecords: 4, whenFull: block }\n    stages:\n      - { type: vision, model: { path: ${JSON.stringify(`${rig.dir.path}/${model}`)} }, motion: { enabled: false } }\n`;
    const yaml = `gateway: { id: gw-names, dataDir: ${JSON.stringify(`${rig.dir.path}/gw`)}, shutdownTimeoutMs: 5000 }
devices:
${camera('cam-1')}${camera('cam-2')}pipelines:
${pipeline('cam-1', 'detector.onnx')}${pipeline('cam-2', 'classifier.onnx')}store: { maxSizeBytes: 1073741824 }
uplink: { url: ${rig.broker.url}, connectTimeoutMs: 2000, reconnect: { minDelayMs: 100, maxDelayMs: 1000 } }
health: { intervalMs: 1000 }
log: { level: warn }
`;
    const events: WireRecord[] = [];
    const unsubscribe = await rig.broker.subscribe(fleetFilters.records, (topic, payload) => {
      for (const r of decodeRecordMessage(topic, payload).records) if (r.stream.endsWith('.events')) events.push(r);
    });
    const registry = builtinRegistry();
    const gw = await Gateway.create(parseConfig(yaml, 'test', registry), registry, { logger: pino({ level: 'silent' }) });
    rig.gateway = gw;
    await gw.start();
    const stage = (p: number): Record<string, unknown> => gw.health().pipelines[p]?.stages[0]?.details ?? {};
    // `inferred` counts a frame once its inference is done (the last one is in flight after `frames` says 20).
    await waitFor(() => stage(0)['inferred'] === FRAMES && stage(1)['inferred'] === FRAMES, `${FRAMES} frames inferred by both vision stages`, 30_000);
    await waitFor(() => events.length >= 2, 'an event from each camera at the fleet', 20_000);
    const said = events.map((e) => [e.stream, (e.data as { event: string }).event, (e.data as { className: string }).className]);
    expect(said).toContainEqual(['cam-1.events', 'entered', "people's car"]);
    expect(said).toContainEqual(['cam-2.events', 'classified', 'bright']);
    expect(events.some((e) => /class\d/.test(JSON.stringify(e.data)))).toBe(false);
    for (const p of [0, 1]) expect(stage(p)).toMatchObject({ frames: FRAMES, frameErrors: 0, degraded: false });
    await unsubscribe();
  }, 60_000);
});
