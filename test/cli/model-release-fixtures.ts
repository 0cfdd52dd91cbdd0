import { readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pino } from 'pino';
import { vi } from 'vitest';
import { decodeRecordMessage } from '../../fleet/ingest/record-message.js';
import { decodeUpdateReport, fleetFilters, type UpdateReportMessage, type WireRecord } from '../../fleet/protocol/index.js';
import { generateKeyring } from '../../fleet/repo/keyring.js';
import { repoInit } from '../../fleet/repo/repo-command.js';
import { trainAutoencoderOnWindows, type AutoencoderMeta } from '../../models/anomaly/autoencoder/model.js';
import type { DetectionDataset, DetectionSample, RgbImage, SensorLog } from '../../models/datasets/types.js';
import type { ModelCard } from '../../models/model-dir/model-card.js';
import { writeModelDir } from '../../models/model-dir/model-dir.js';
import { readFloatInitializers, withInitializers } from '../../models/onnx/initializers.js';
import { BUILTIN_DETECTOR_PATH } from '../../models/vision/defaults.js';
import { parseConfig } from '../../runtime/config/load.js';
import { Gateway } from '../../runtime/gateway.js';
import { builtinRegistry } from '../../runtime/plugins.js';
import { renderLabelledImage } from '../../sim/camera/dataset.js';
import { ConveyorScene } from '../../sim/camera/index.js';
import { encodeH264 } from '../../sim/video/encode-h264.js';
import type { GatewayRig } from '../support/gateway-rig.js';
import { waitFor } from '../support/wait-for.js';

/**
 * A MODEL_DIR as `edgewise model train` would leave one: the repo's real conveyor detector
 * (models/vision/detector) with the class name `widget` in its ONNX metadata, and a card
 * saying the same. `metadataNames` writes other names into the model (a mismatch).
 */
export async function widgetModelDir(dir: string, o: { metadataNames?: string } = {}): Promise<ModelCard> {
  const bytes = new Uint8Array(await readFile(BUILTIN_DETECTOR_PATH()));
  const model = withInitializers(bytes, readFloatInitializers(bytes), { classNames: o.metadataNames ?? 'widget', name: 'widget-detector', version: '2.0.0' });
  const card: ModelCard = {
    format: 'edgewise-model',
    version: 1,
    task: 'detect',
    architecture: 'defect-detector-s16',
    classNames: ['widget'],
    input: { name: 'images', width: 320, height: 192, channels: 1, mean: [0], std: [1] },
    output: { name: 'output0', layout: 'yolov8' },
    threshold: 0.25,
    training: { dataset: 'conveyor-widgets', trainSamples: 1600, valSamples: 12, epochs: 10, seed: 1, losses: [0.1, 0.02], seconds: 60, finishedAt: '2026-11-30T12:00:00.000Z' },
  };
  await writeModelDir(dir, card, model);
  return card;
}

/** The conveyor simulator's labelled stills as a detection dataset of one class, `widget` (the sim's parts), as a plant's photos would be read. */
export function conveyorDataset(val: number, o: { width?: number; height?: number; seed?: number } = {}): DetectionDataset {
  const width = o.width ?? 640;
  const height = o.height ?? 360;
  const sample = (seed: number, split: string): DetectionSample => {
    const still = renderLabelledImage(seed, width, height);
    return {
      file: `images/${split}/${seed}.png`,
      boxes: still.parts.map((p) => ({ classId: 0, cx: (p.box.x + p.box.w / 2) / width, cy: (p.box.y + p.box.h / 2) / height, w: p.box.w / width, h: p.box.h / height })),
      load: async (): Promise<RgbImage> => {
        const data = new Uint8Array(width * height * 3);
        still.y.forEach((v, i) => data.fill(v, i * 3, i * 3 + 3));
        return { width, height, data };
      },
    };
  };
  const first = o.seed ?? 5000;
  return { task: 'detect', root: '/plant/widgets', classNames: ['widget'], train: [sample(first - 1, 'train')], val: Array.from({ length: val }, (_, i) => sample(first + i, 'val')) };
}

/**
 * A small motor log (current and vibration, 400 rows, rows 0-2 and a fault at 200-239 labelled
 * abnormal, vibration stuck at 3 in the fault) and a MODEL_DIR with an autoencoder of 8-sample
 * windows trained on its normal rows, as `model train anomaly` would leave one.
 */
export async function motorAutoencoderDir(dir: string): Promise<{ log: SensorLog; values: Float64Array; rows: number; W: number; meta: AutoencoderMeta }> {
  const channels = ['current', 'vibration'];
  const W = 8;
  const rows = 400;
  const values = new Float64Array(rows * 2);
  const labels = new Uint8Array(rows);
  for (let r = 0; r < rows; r += 1) {
    values[r * 2] = 5 + Math.sin(r / 3);
    values[r * 2 + 1] = 0.2 * Math.cos(r / 5);
  }
  // Rows 0-2 abnormal (the first normal window starts at row 3), and a fault at rows 200-239.
  for (const r of [0, 1, 2]) labels[r] = 1;
  for (let r = 200; r < 240; r += 1) {
    labels[r] = 1;
    values[r * 2 + 1] = 3;
  }
  const log: SensorLog = { file: 'motor.csv', channels, units: ['A', 'g'], timestampsMs: Float64Array.from({ length: rows }, (_, i) => i * 10), values, rows, labels };
  const windows = new Float64Array(40 * W * 2);
  for (let k = 0; k < 40; k += 1) windows.set(values.subarray((k * 4 + 3) * 2, (k * 4 + 3 + W) * 2), k * W * 2);
  const trained = await trainAutoencoderOnWindows(windows, 40, { channels, windowSamples: W, hidden: [8, 3, 8], epochs: 3, batchSize: 8, learningRate: 0.01, seed: 3, heldOut: 0.2 });
  const card: ModelCard = { format: 'edgewise-model', version: 1, task: 'anomaly', architecture: 'autoencoder-8-3-8', classNames: channels, output: { name: 'reconstruction', layout: 'autoencoder' }, threshold: 0.5, training: { dataset: 'motor.csv', trainSamples: 32, valSamples: 8, epochs: 3, seed: 3, losses: [...trained.losses], seconds: 1, finishedAt: '2026-11-30T13:00:00.000Z' } };
  await writeModelDir(dir, card, trained.bytes);
  return { log, values, rows, W, meta: trained.meta };
}

/** A repository made as an operator makes one: a key per role (`keys generate`), `repo init`. Returns the key file of each role. */
export async function operatorRepo(dir: string): Promise<{ repo: string; key: (role: 'root' | 'targets' | 'snapshot' | 'timestamp') => Promise<string> }> {
  const keys = join(dir, 'keys');
  await generateKeyring(keys, { root: 1, targets: 1, snapshot: 1, timestamp: 1 });
  const repo = join(dir, 'repo');
  const quiet = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
  try {
    if ((await repoInit({ repo, keys, threshold: [] })) !== 0) throw new Error('repo init failed');
  } finally {
    quiet.mockRestore();
  }
  return {
    repo,
    key: async (role) => {
      const f = (await readdir(keys)).find((n) => n.startsWith(`${role}-`) && n.endsWith('.key'));
      if (f === undefined) throw new Error(`no ${role} key`);
      return join(keys, f);
    },
  };
}

/** Runs `f` with stdout and stderr captured (the commands print; a test reads what they said). */
export async function captured<T>(f: () => Promise<T>): Promise<{ value: T; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const out = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    stdout += String(chunk);
    return true;
  });
  const err = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
    stderr += String(chunk);
    return true;
  });
  try {
    return { value: await f(), stdout, stderr };
  } finally {
    out.mockRestore();
    err.mockRestore();
  }
}

/** The gateway's vision stage for a released model, as `model release` prints it: `{ type: vision, model: { managed: NAME }, mean, std, confidence }`. */
export type ManagedVisionStage = Readonly<Record<string, unknown>>;

export interface ConveyorGatewayRun {
  readonly gateway: Gateway;
  /** The gateway's update reports for the model, as the fleet receives them. */
  readonly reports: readonly UpdateReportMessage[];
  /** The first `entered` event the released model's stage sent up. */
  readonly entered: WireRecord;
  /** Every `cam.events` record sent up so far (the list keeps growing while the gateway runs). */
  readonly events: readonly WireRecord[];
}

const CLIP = { width: 640, height: 360, fps: 10, frames: 100, seed: 21 } as const;

/**
 * A gateway as an operator sets one up for a model release: the conveyor camera (an H.264 clip
 * of the simulator's belt, looped), the given vision stage over the whole frame, its uplink to
 * the rig's broker, and `updates` pinned to the repository's root v1 and keeping `modelName` up
 * to date from `url` (a served TUF repository). Waits until release 1 is activated and a part
 * entering the frame is reported; the rig stops the gateway after the test.
 */
export async function runConveyorGateway(rig: GatewayRig, o: { url: string; repo: string; modelName: string; stage: ManagedVisionStage }): Promise<ConveyorGatewayRun> {
  const d = rig.dir.path;
  const { width: W, height: H, fps } = CLIP;
  const scene = new ConveyorScene({ width: W, height: H, fps, seed: CLIP.seed });
  const clip = join(d, 'belt.h264');
  await writeFile(clip, await encodeH264({ width: W, height: H, framerate: fps, frames: CLIP.frames, picture: () => scene.next() }));
  const reports: UpdateReportMessage[] = [];
  await rig.broker.subscribe(fleetFilters.updateReport, (_topic, payload) => reports.push(decodeUpdateReport(payload)));
  const events: WireRecord[] = [];
  await rig.broker.subscribe(fleetFilters.records, (topic, payload) => {
    for (const r of decodeRecordMessage(topic, payload).records) if (r.stream === 'cam.events') events.push(r);
  });
  // JSON is YAML: the stage goes in as given, with a zone over the whole frame.
  const stage = JSON.stringify({ ...o.stage, zones: [[[0, 0], [W, 0], [W, H], [0, H]]] });
  const yaml = `
gateway: { id: gw-${o.modelName}, dataDir: ${JSON.stringify(join(d, 'gw'))}, shutdownTimeoutMs: 5000 }
devices:
  - { id: cam, type: camera, input: { file: ${JSON.stringify(clip)}, loop: true }, streamFps: ${fps} }
pipelines:
  - id: cam
    source: cam
    queue: { maxRecords: 4, whenFull: dropOldest }
    stages:
      - ${stage}
uplink: { url: ${rig.broker.url}, connectTimeoutMs: 2000, reconnect: { minDelayMs: 100, maxDelayMs: 1000 } }
updates:
  metadataUrl: ${o.url}/metadata
  targetBaseUrl: ${o.url}/targets
  rootFile: ${JSON.stringify(join(o.repo, 'metadata', '1.root.json'))}
  models: [${o.modelName}]
log: { level: warn }
`;
  const registry = builtinRegistry();
  const gateway = await Gateway.create(parseConfig(yaml, 'test', registry), registry, { logger: pino({ level: 'silent' }) });
  rig.gateway = gateway;
  await gateway.start();
  // Verified through TUF, health-checked against the golden output within its tolerance and budget, activated.
  await waitFor(() => reports.some((r) => r.step === 'activate' && r.release === 1), `release 1 of ${o.modelName} activated`, 60_000).catch((err: Error) => {
    throw new Error(`${err.message}; the gateway reported ${JSON.stringify(reports)}`);
  });
  const entered = await waitFor(() => events.find((e) => (e.data as { event: string }).event === 'entered'), 'a part entering, named by the released model', 60_000).catch((err: Error) => {
    throw new Error(`${err.message}; ${events.length} events; the vision stage: ${JSON.stringify(gateway.health().pipelines[0]?.stages[0]?.details)}`);
  });
  return { gateway, reports, entered, events };
}
