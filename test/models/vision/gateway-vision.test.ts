import { writeFile } from 'node:fs/promises';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { decodeRecordMessage } from '../../../fleet/ingest/record-message.js';
import { fleetFilters, type WireRecord } from '../../../fleet/protocol/index.js';
import { parseConfig } from '../../../runtime/config/load.js';
import { Gateway } from '../../../runtime/gateway.js';
import { builtinRegistry } from '../../../runtime/plugins.js';
import { ConveyorScene } from '../../../sim/camera/index.js';
import { encodeH264 } from '../../../sim/video/encode-h264.js';
import { useGatewayRig } from '../../support/gateway-rig.js';
import { waitFor } from '../../support/wait-for.js';

const W = 640;
const H = 360;
const FPS = 10;
const SECONDS = 60;
const FRAMES = SECONDS * FPS;
/** A track ends when its part has been gone this long (the stage's tracker.maxAgeMs) plus a margin. */
const END_FRAMES = 15;

function config(dataDir: string, url: string, clip: string): string {
  return `
gateway: { id: gw-vision, dataDir: ${JSON.stringify(dataDir)}, shutdownTimeoutMs: 5000 }
devices:
  - id: cam-1
    type: camera
    input: { file: ${JSON.stringify(clip)} }
    streamFps: ${FPS}
    realtime: false
pipelines:
  - id: cam-1
    source: cam-1
    queue: { maxRecords: 4, whenFull: block }
    stages:
      - type: vision
        zones: [[[0, 0], [${W}, 0], [${W}, ${H}], [0, ${H}]]]
store: { maxSizeBytes: 1073741824 }
uplink: { url: ${url}, connectTimeoutMs: 2000, reconnect: { minDelayMs: 100, maxDelayMs: 1000 } }
health: { intervalMs: 1000 }
log: { level: warn }
`;
}

describe('camera -> vision -> fleet, end to end', () => {
  const rig = useGatewayRig();

  it('turns an H.264 clip of the conveyor into one defect event per defective part, each with the model and a crop', async () => {
    // The clip, and which defective parts crossed the frame whole and left before it ended.
    const scene = new ConveyorScene({ width: W, height: H, fps: FPS, seed: 21, stillShare: 0.5, stillPeriodS: 10 });
    const whole = new Map<number, { defect: string; lastFrame: number }>();
    const clip = await encodeH264({
      width: W,
      height: H,
      framerate: FPS,
      frames: FRAMES,
      picture: (i) => {
        const f = scene.next();
        for (const p of f.parts) {
          const seen = whole.get(p.id);
          if (seen !== undefined) seen.lastFrame = i;
          else if (p.visible >= 0.99) whole.set(p.id, { defect: p.defect, lastFrame: i });
        }
        return { y: f.y, u: f.u, v: f.v };
      },
    });
    const clipPath = `${rig.dir.path}/conveyor.h264`;
    await writeFile(clipPath, clip);
    const gone = [...whole.values()].filter((p) => p.lastFrame < FRAMES - END_FRAMES);
    const defective = gone.filter((p) => p.defect !== 'none').length;
    expect(defective).toBeGreaterThanOrEqual(4);

    const events: WireRecord[] = [];
    const unsubscribe = await rig.broker.subscribe(fleetFilters.records, (topic, payload) => {
      for (const r of decodeRecordMessage(topic, payload).records) if (r.stream === 'cam-1.events') events.push(r);
    });
    const registry = builtinRegistry();
    const gw = await Gateway.create(parseConfig(config(`${rig.dir.path}/gw`, rig.broker.url, clipPath), 'test', registry), registry, { logger: pino({ level: 'silent' }) });
    rig.gateway = gw;
    await gw.start();
    const stage = (): Record<string, unknown> => gw.health().pipelines[0]?.stages[0]?.details ?? {};
    await waitFor(() => stage()['frames'] === FRAMES, `${FRAMES} frames through the vision stage`, 60_000);
    const defects = (): WireRecord[] => events.filter((e) => (e.data as { event: string }).event === 'defect');
    await waitFor(() => defects().length >= defective - 1, 'defect events at the fleet', 20_000);

    expect(Math.abs(defects().length - defective)).toBeLessThanOrEqual(1);
    for (const e of defects()) {
      const d = e.data as { model: { name: string; version: string; hash: string }; crop?: { png: Uint8Array }; best: { score: number } };
      expect(e.class).toBe('result');
      expect(d.model).toMatchObject({ name: 'defect-detector', version: '1.0.0' });
      expect(d.model.hash).toMatch(/^sha256:[0-9a-f]{64}$/);
      expect(d.crop?.png.length).toBeGreaterThan(50);
    }
    const logged = (await gw.decisions.list(0, Date.now() + 3_600_000, 1000)).filter((x) => x.kind === 'decision');
    expect(logged.length).toBeGreaterThanOrEqual(defects().length);
    const s = stage();
    expect(s['degraded']).toBe(false);
    expect(s['gatedOut'] as number).toBeGreaterThan(FRAMES * 0.3); // the belt stands half the time
    await unsubscribe();
  }, 120_000);
});
