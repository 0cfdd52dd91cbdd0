import { writeFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../../runtime/config/load.js';
import { Gateway } from '../../../runtime/gateway.js';
import type { FrameRecordData } from '../../../runtime/pipeline/frame.js';
import { defineStage } from '../../../runtime/pipeline/registry.js';
import { builtinRegistry } from '../../../runtime/plugins.js';
import { patternIndex } from '../../../sim/video/test-pattern.js';
import { useGatewayRig } from '../../support/gateway-rig.js';
import { waitFor } from '../../support/wait-for.js';
import { ffmpeg, makeClip } from './clip.js';

/**
 * A stage that takes frames and keeps the pattern index of each, `delayMs` per batch: slower
 * than the decoder, as a vision model is. It emits nothing.
 */
function frameRecorder(seen: Map<string, number[]>, delayMs: number): ReturnType<typeof defineStage> {
  return defineStage({
    type: 'record-frames',
    configSchema: { type: 'object', properties: { type: { const: 'record-frames' }, name: { type: 'string' } }, required: ['type', 'name'], additionalProperties: false } as const,
    flow: { accepts: ['frames'], emits: [], passes: [] },
    create: (config) => {
      const list: number[] = [];
      seen.set(config.name, list);
      return {
        async process(records) {
          for (const r of records) {
            const { frame } = r.data as FrameRecordData;
            list.push(patternIndex(frame));
            frame.release?.();
          }
          await sleep(delayMs);
          return [];
        },
      };
    },
  });
}

function config(dataDir: string, url: string, cameras: string): string {
  return `
gateway: { id: gw-cam, dataDir: ${JSON.stringify(dataDir)}, shutdownTimeoutMs: 5000 }
${cameras}
store: { maxSizeBytes: 268435456 }
uplink: { url: ${url}, connectTimeoutMs: 2000, reconnect: { minDelayMs: 100, maxDelayMs: 1000 } }
log: { level: warn }
`;
}

const camera = (id: string, file: string, loop = false): { device: string; pipeline: string } => ({
  device: `  - { id: ${id}, type: camera, input: { file: ${JSON.stringify(file)}, loop: ${loop} }, realtime: false }`,
  pipeline: `  - id: ${id}\n    source: ${id}\n    queue: { maxRecords: 4, whenFull: dropOldest }\n    stages: [{ type: record-frames, name: ${id} }]`,
});

describe('camera in a gateway', () => {
  const rig = useGatewayRig();

  it('plays a file with realtime: false into a dropOldest edge and a slow stage without dropping a frame', async () => {
    const clip = `${rig.dir.path}/clip.h264`;
    await writeFile(clip, (await makeClip(192, 128, 300)).bytes);
    const seen = new Map<string, number[]>();
    const registry = builtinRegistry().register(frameRecorder(seen, 5));
    const cam = camera('cam-1', clip);
    const gw = await Gateway.create(parseConfig(config(`${rig.dir.path}/gw`, rig.broker.url, `devices:\n${cam.device}\npipelines:\n${cam.pipeline}`), 'test', registry), registry, {
      logger: pino({ level: 'silent' }),
    });
    rig.gateway = gw;
    await gw.start();
    // Every frame either reached the stage or was dropped by the edge (the policy counts it).
    const settled = (): boolean => {
      const h = gw.health();
      return h.sources[0]?.emitted === 300 && (seen.get('cam-1')?.length ?? 0) + (h.pipelines[0]?.edges[0]?.dropped ?? 0) === 300;
    };
    await waitFor(settled, 'all 300 frames at the stage or dropped', 60_000);
    expect(seen.get('cam-1')).toEqual([...Array(300).keys()]);
    const h = gw.health();
    expect(h.pipelines[0]?.edges[0]).toMatchObject({ policy: 'dropOldest', capacityRecords: 4, dropped: 0 });
    expect(h.sources[0]).toMatchObject({ emitted: 300, dropped: 0, details: { framesDecoded: 300, framesEmitted: 300, framesDropped: 0 } });
  }, 90_000);

  it('a camera given a PNG is refused and degrades the gateway, which keeps serving its other camera', async () => {
    const png = `${rig.dir.path}/snapshot.png`;
    await ffmpeg(['-f', 'lavfi', '-i', 'testsrc=size=320x240', '-frames:v', '1', png]);
    const clip = `${rig.dir.path}/clip.mp4`;
    await writeFile(`${rig.dir.path}/clip.h264`, (await makeClip(192, 128, 60)).bytes);
    await ffmpeg(['-r', '30', '-i', `${rig.dir.path}/clip.h264`, '-c', 'copy', clip]);
    const seen = new Map<string, number[]>();
    const registry = builtinRegistry().register(frameRecorder(seen, 0));
    const bad = camera('cam-bad', png);
    const good = camera('cam-good', clip, true);
    const lines: string[] = [];
    const logger = pino({ level: 'warn' }, { write: (line: string) => void lines.push(line) });
    const text = config(`${rig.dir.path}/gw`, rig.broker.url, `devices:\n${bad.device}\n${good.device}\npipelines:\n${bad.pipeline}\n${good.pipeline}`);
    const gw = await Gateway.create(parseConfig(text, 'test', registry), registry, { logger });
    rig.gateway = gw;
    await gw.start();
    await waitFor(() => gw.health().status === 'degraded' && gw.health().reasons.some((r) => r.startsWith('source cam-bad')), 'the gateway degraded by the bad camera', 15_000);
    const reason = gw.health().reasons.find((r) => r.startsWith('source cam-bad'));
    expect(reason).toMatch(/^source cam-bad: degraded \(E_CAMERA_FORMAT: file .*snapshot\.png: not an H\.264 Annex B stream, .*: it looks like a PNG image\)$/);
    const logged = lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l['event'] === 'camera.format_rejected');
    expect(logged).toHaveLength(1);
    expect(logged[0]).toMatchObject({ code: 'E_CAMERA_FORMAT', source: 'cam-bad' });
    // The other camera goes on: its MP4 loops through the stage.
    const before = seen.get('cam-good')?.length ?? 0;
    await waitFor(() => (seen.get('cam-good')?.length ?? 0) >= before + 120, 'two more loops of the good camera', 30_000);
    expect(seen.get('cam-good')!.slice(0, 60)).toEqual([...Array(60).keys()]);
    expect(seen.get('cam-bad')).toEqual([]);
    const badSource = gw.health().sources.find((s) => s.id === 'cam-bad');
    expect(badSource?.details).toMatchObject({ degraded: true, formatErrors: 1, connected: false, reconnects: 0, framesEmitted: 0 });
  }, 90_000);
});
