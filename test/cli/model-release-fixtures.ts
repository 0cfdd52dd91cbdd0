import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { vi } from 'vitest';
import { generateKeyring } from '../../fleet/repo/keyring.js';
import { repoInit } from '../../fleet/repo/repo-command.js';
import type { DetectionDataset, DetectionSample, RgbImage } from '../../models/datasets/types.js';
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
