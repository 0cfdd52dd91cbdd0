import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { vi } from 'vitest';
import { generateKeyring } from '../../fleet/repo/keyring.js';
import { repoInit } from '../../fleet/repo/repo-command.js';
import { trainAutoencoderOnWindows, type AutoencoderMeta } from '../../models/anomaly/autoencoder/model.js';
import type { DetectionDataset, DetectionSample, RgbImage, SensorLog } from '../../models/datasets/types.js';
import type { ModelCard } from '../../models/model-dir/model-card.js';
import { writeModelDir } from '../../models/model-dir/model-dir.js';
import { readFloatInitializers, withInitializers } from '../../models/onnx/initializers.js';
import { BUILTIN_DETECTOR_PATH } from '../../models/vision/defaults.js';
import { renderLabelledImage } from '../../sim/camera/dataset.js';

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
