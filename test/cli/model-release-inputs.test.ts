import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { pixelBox, visionEvaluationSet } from '../../cli/model-release-evaluation.js';
import { toleranceString } from '../../cli/model-release-golden.js';
import { latencyBudgetMs } from '../../cli/model-release-latency.js';
import { runModelRelease, type ModelReleaseOptions } from '../../cli/model-release.js';
import { decodeEvaluationSet } from '../../fleet/protocol/evaluation-set.js';
import { ensureDelegatedKey } from '../../fleet/repo/delegated-key.js';
import { modelPathPattern } from '../../fleet/repo/delegation.js';
import { repoDelegate, repoPublish, repoSign } from '../../fleet/repo/repo-command.js';
import { listReleases } from '../../fleet/repo/releases.js';
import type { ClassificationDataset, DetectionDataset, RgbImage } from '../../models/datasets/types.js';
import type { ModelCard } from '../../models/model-dir/model-card.js';
import { writeModelDir } from '../../models/model-dir/model-dir.js';
import { buildModel } from '../../models/onnx/builder.js';
import { makeTempDir } from '../support/temp-dir.js';
import { captured, conveyorDataset, motorAutoencoderDir, operatorRepo, widgetModelDir } from './model-release-fixtures.js';

describe('edgewise model release: what it refuses, and the counter', () => {
  let dir: { path: string; remove: () => Promise<void> };
  beforeEach(async () => {
    dir = await makeTempDir();
  });
  afterEach(async () => {
    await dir.remove();
  });

  const release = (o: Partial<ModelReleaseOptions> & { repo: string }): Promise<{ value: number; stdout: string; stderr: string }> => captured(() => runModelRelease({ model: `${dir.path}/model`, modelName: 'widgets', latencyRuns: 20, ...o }));

  it('refuses a MODEL_DIR without a card, a repository dir that is not one, a bad name, a card whose input the model does not have, a model that is not ONNX: exit 2, each named', async () => {
    const { repo } = await operatorRepo(dir.path);
    await mkdir(`${dir.path}/model`, { recursive: true });
    await writeFile(`${dir.path}/model/model.onnx`, new Uint8Array(10));
    const noCard = await release({ repo });
    expect(noCard.value).toBe(2);
    expect(noCard.stderr).toContain(`edgewise model release: ${dir.path}/model/model.json: no model card`);

    await widgetModelDir(`${dir.path}/model`);
    await mkdir(`${dir.path}/empty`);
    const notRepo = await release({ repo: `${dir.path}/empty` });
    expect(notRepo.value).toBe(2);
    expect(notRepo.stderr).toContain(`--repo ${dir.path}/empty: not a TUF repository`);
    expect(notRepo.stderr).toContain('edgewise repo init');

    const badName = await release({ repo, modelName: 'Widgets!' });
    expect(badName.value).toBe(2);
    expect(badName.stderr).toContain('--model-name "Widgets!"');

    const card = JSON.parse(await readFile(`${dir.path}/model/model.json`, 'utf8')) as ModelCard;
    await writeFile(`${dir.path}/model/model.json`, JSON.stringify({ ...card, input: { ...card.input, width: 640 } }));
    const wrongSize = await release({ repo });
    expect(wrongSize.value).toBe(2);
    expect(wrongSize.stderr).toContain('the card\'s input "images" is [1, 1, 192, 640] (channels 1, 640x192), the model\'s [1, 1, 192, 320]');

    await writeFile(`${dir.path}/model/model.onnx`, 'not a model at all, a text file');
    const notOnnx = await release({ repo });
    expect(notOnnx.value).toBe(2);
    expect(notOnnx.stderr).toContain(`${dir.path}/model/model.onnx: not an ONNX model`);
    // Nothing was staged by any of them.
    expect(await readdir(`${repo}/targets`).catch(() => [])).toEqual([]);
  });

  it('refuses class names that the model file, its card and the dataset do not agree on, and a dataset of another task', async () => {
    const { repo } = await operatorRepo(dir.path);
    await widgetModelDir(`${dir.path}/model`, { metadataNames: 'part' });
    const model = await release({ repo });
    expect(model.value).toBe(2);
    expect(model.stderr).toContain('its metadata names the classes part, its card widget');

    await widgetModelDir(`${dir.path}/model`);
    const other = { ...conveyorDataset(2), classNames: ['bolt'] };
    const data = await release({ repo, data: '/plant/bolts', readData: async () => other });
    expect(data.value).toBe(2);
    expect(data.stderr).toContain('--data /plant/bolts: its classes are bolt, the model\'s widget');

    const logs = await release({ repo, data: '/plant/motor.csv', readData: async () => [] });
    expect(logs.value).toBe(2);
    expect(logs.stderr).toContain('--data /plant/motor.csv: a sensor log, and the model is a detect model');

    // A dataset the reader refuses (helper A's DatasetError, code E_DATASET) is bad input too, its message passed on.
    const broken = await release({ repo, data: '/plant/broken', readData: async () => Promise.reject(Object.assign(new Error('/plant/broken/labels/val/3.txt:2: class 7 is beyond the 1 names of data.yaml'), { code: 'E_DATASET' })) });
    expect(broken.value).toBe(2);
    expect(broken.stderr).toContain('labels/val/3.txt:2: class 7');
  });

  it('numbers releases one above the highest staged or published, and refuses a counter not above it', async () => {
    const { repo, key } = await operatorRepo(dir.path);
    await widgetModelDir(`${dir.path}/model`);
    expect((await release({ repo })).stdout).toContain('staged models/widgets/1/model.onnx');
    // Staged, not yet published: still taken.
    const again = await release({ repo, release: 1 });
    expect(again.value).toBe(2);
    expect(again.stderr).toContain('--release 1: widgets already has release 1 (staged: models/widgets/1/model.onnx)');
    expect((await release({ repo })).stdout).toContain('staged models/widgets/2/model.onnx');

    await captured(async () => repoSign({ repo, role: 'root', key: [await key('root')] }));
    await captured(async () => repoSign({ repo, role: 'targets', key: [await key('targets')] }));
    expect((await captured(async () => repoPublish({ repo, snapshotKey: [await key('snapshot')], timestampKey: [await key('timestamp')] }))).value).toBe(0);
    expect((await listReleases(repo)).map((r) => r.release)).toEqual([2, 1]);
    const lower = await release({ repo, release: '2' });
    expect(lower.value).toBe(2);
    expect(lower.stderr).toContain('widgets already has release 2 (published: models/widgets/2/model.onnx); gateways refuse');
    // A deliberate jump is fine; another model's counter is its own.
    expect((await release({ repo, release: 7 })).stdout).toContain('staged models/widgets/7/model.onnx');
    expect((await release({ repo, modelName: 'gadgets' })).stdout).toContain('staged models/gadgets/1/model.onnx');
    const junk = await release({ repo, release: 'seven' });
    expect(junk.value).toBe(2);
    expect(junk.stderr).toContain('--release: expected a whole number');
  });
  it('signs with a delegated role when asked, and counts that role\'s releases written but not yet published', async () => {
    const { repo, key } = await operatorRepo(dir.path);
    await widgetModelDir(`${dir.path}/model`);
    const role = await ensureDelegatedKey(`${dir.path}/line-keys`, 'line-widgets');
    await captured(async () => repoDelegate({ repo, role: role.role, key: [role.publicPath], threshold: '1', paths: [modelPathPattern('widgets')] }));
    await captured(async () => repoSign({ repo, role: 'root', key: [await key('root')] }));
    await captured(async () => repoSign({ repo, role: 'targets', key: [await key('targets')] }));
    expect((await captured(async () => repoPublish({ repo, snapshotKey: [await key('snapshot')], timestampKey: [await key('timestamp')] }))).value).toBe(0);

    const first = await release({ repo, signedBy: role.role, roleKey: [role.privatePath] });
    expect(first.value, first.stderr).toBe(0);
    expect(first.stdout).toContain(`signed models/widgets/1/model.onnx as ${role.role}: publish`);
    expect(first.stdout).not.toContain('repo sign');
    // Written to the role's metadata at once, listed by no snapshot yet: still counted.
    expect(await listReleases(repo)).toEqual([]);
    expect((await release({ repo, signedBy: role.role, roleKey: [role.privatePath] })).stdout).toContain('signed models/widgets/2/model.onnx');
    expect((await release({ repo, release: 2, signedBy: role.role, roleKey: [role.privatePath] })).stderr).toContain('widgets already has release 2 (staged: models/widgets/2/model.onnx)');
    await captured(async () => repoPublish({ repo, snapshotKey: [await key('snapshot')], timestampKey: [await key('timestamp')] }));
    expect((await listReleases(repo)).map((r) => `${r.release} ${r.signedBy}`)).toEqual([`2 ${role.role}`, `1 ${role.role}`]);
  });
});

describe('edgewise model release of an anomaly autoencoder', () => {
  let dir: { path: string; remove: () => Promise<void> };
  beforeEach(async () => {
    dir = await makeTempDir();
  });
  afterEach(async () => {
    await dir.remove();
  });

  it('takes the golden input from the first normal window, normalised as the stage feeds it, and labels evaluation windows by their rows', async () => {
    const { log, values, rows, W, meta: m } = await motorAutoencoderDir(`${dir.path}/model`);
    const { repo } = await operatorRepo(dir.path);

    const r = await captured(() => runModelRelease({ model: `${dir.path}/model`, repo, modelName: 'motor-ae', data: 'motor.csv', readData: async () => [log], latencyRuns: 20 }));
    expect(r.value, r.stderr).toBe(0);
    expect(r.stdout).toContain('golden run: motor.csv rows 4-11 (the first window of normal running)');
    expect(r.stdout).toContain('gateway stage: { type: anomaly, detector: autoencoder, autoencoder: { managed: motor-ae, windowSamples: 8 } }');
    const staged = JSON.parse(await readFile(`${repo}/staged/targets.json`, 'utf8')) as { signed: { targets: Record<string, { custom?: { edgewise?: { golden: { inputName: string; dims: number[]; outputName: string } } } }> } };
    expect(staged.signed.targets['models/motor-ae/1/model.onnx']?.custom?.edgewise?.golden).toMatchObject({ inputName: 'x', dims: [1, 16], outputName: 'reconstruction' });
    const file = async (suffix: string): Promise<Buffer> => readFile(`${repo}/targets/models/motor-ae/1/${(await readdir(`${repo}/targets/models/motor-ae/1`)).find((n) => n.endsWith(suffix)) as string}`);
    const golden = new Float32Array(new Uint8Array(await file('.golden-input.bin')).buffer);
    for (let t = 0; t < W; t += 1) {
      for (let c = 0; c < 2; c += 1) expect(golden[t * 2 + c]).toBeCloseTo(((values[(3 + t) * 2 + c] as number) - (m.mean[c] as number)) / (m.std[c] as number), 5);
    }
    const set = decodeEvaluationSet(await file('.evaluation.cbor'));
    expect(set.kind).toBe('anomaly-windows');
    if (set.kind === 'anomaly-windows') {
      expect(set.set.count).toBe(rows / W);
      // Windows of rows 0-7 (3 abnormal rows) and 200-239 (the fault) are anomalous, the rest normal.
      expect([...set.set.labels].flatMap((l, i) => (l === 1 ? [i] : []))).toEqual([0, 25, 26, 27, 28, 29]);
      expect(set.set.windows[25 * W * 2 + 1]).toBe(3);
    }
  });
});

describe('edgewise model release of a classifier, and of photos larger than the model needs', () => {
  let dir: { path: string; remove: () => Promise<void> };
  beforeEach(async () => {
    dir = await makeTempDir();
  });
  afterEach(async () => {
    await dir.remove();
  });

  const picture = (width: number, height: number, value: number): RgbImage => ({ width, height, data: new Uint8Array(width * height * 3).fill(value) });

  it('releases a whole-frame classifier with its golden input from the val split and no evaluation set, saying why', async () => {
    const model = buildModel({
      name: 'shade',
      inputs: [{ name: 'pixels', dims: [1, 3, 8, 8] }],
      outputs: [{ name: 'logits', dims: [1, 2] }],
      initializers: [
        { name: 'w', dims: [2, 3], data: [1, 1, 1, -1, -1, -1] },
        { name: 'b', dims: [2], data: [0, 1.5] },
      ],
      nodes: [
        { op: 'GlobalAveragePool', inputs: ['pixels'], outputs: ['pooled'] },
        { op: 'Flatten', inputs: ['pooled'], outputs: ['flat'] },
        { op: 'Gemm', inputs: ['flat', 'w', 'b'], outputs: ['logits'], attributes: { transB: 1 } },
      ],
      metadata: { classNames: 'light,dark' },
    });
    const card: ModelCard = { format: 'edgewise-model', version: 1, task: 'classify', architecture: 'shade-8', classNames: ['light', 'dark'], input: { name: 'pixels', width: 8, height: 8, channels: 3, mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25] }, output: { name: 'logits', layout: 'classification' }, threshold: 0.5, training: { dataset: 'shades', trainSamples: 2, valSamples: 1, epochs: 1, seed: 1, losses: [0.5], seconds: 1, finishedAt: '2026-11-30T14:00:00.000Z' } };
    await writeModelDir(`${dir.path}/model`, card, model);
    const dataset: ClassificationDataset = {
      task: 'classify',
      root: '/plant/shades',
      classNames: ['light', 'dark'],
      train: [{ file: 'light/a.png', classId: 0, load: async () => picture(8, 8, 250) }],
      val: [{ file: 'dark/b.png', classId: 1, load: async () => picture(16, 16, 0) }],
    };
    const { repo } = await operatorRepo(dir.path);
    const r = await captured(() => runModelRelease({ model: `${dir.path}/model`, repo, modelName: 'shades', data: '/plant/shades', readData: async () => dataset, latencyRuns: 20 }));
    expect(r.value, r.stderr).toBe(0);
    expect(r.stdout).toContain('golden run: dark/b.png; input "pixels" [1, 3, 8, 8], output "logits" (2 values)');
    expect(r.stdout).toContain('evaluation set: none: evaluation sets score detectors and autoencoders');
    expect(r.stdout).toContain('gateway stage: { type: vision, model: { managed: shades }, task: classification, mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25], confidence: 0.5 }');
    // A black frame normalised as the stage does: (0 - 0.5) / 0.25 = -2 everywhere; logits [-6, 7.5].
    const dirFiles = await readdir(`${repo}/targets/models/shades/1`);
    const read = async (suffix: string): Promise<Float32Array> => new Float32Array(new Uint8Array(await readFile(`${repo}/targets/models/shades/1/${dirFiles.find((n) => n.endsWith(suffix)) as string}`)).buffer);
    expect([...(await read('.golden-input.bin'))].every((v) => v === -2)).toBe(true);
    expect([...(await read('.golden-output.bin'))]).toEqual([-6, 7.5]);
  });

  it('scales photos larger than twice the model\'s input down for the evaluation set, boxes with them, within its byte bound', async () => {
    const big: DetectionDataset = {
      task: 'detect',
      root: '/plant/boards',
      classNames: ['scratch'],
      train: [],
      val: Array.from({ length: 5 }, (_, i) => ({ file: `images/val/${i}.jpg`, boxes: [{ classId: 0, cx: 0.5, cy: 0.5, w: 0.1, h: 0.2 }], load: async () => picture(2600, 1950, 100 + i) })),
    };
    const set = await visionEvaluationSet(big, 640);
    expect('bytes' in set).toBe(true);
    if (!('bytes' in set)) return;
    expect(set.summary).toBe('5 frames of the val split (5 images, 5 scaled down to 1280 px), 5 labelled boxes, 23.4 MiB');
    const decoded = decodeEvaluationSet(set.bytes);
    if (decoded.kind !== 'vision-frames') throw new Error(decoded.kind);
    expect(decoded.set.frames.map((f) => `${f.width}x${f.height}`)).toEqual(Array(5).fill('1280x960'));
    expect(decoded.set.frames[0]?.boxes).toEqual([{ classId: 0, x: 576, y: 384, w: 128, h: 192 }]);
    expect([...(decoded.set.frames[3]?.pixels.subarray(0, 4) ?? [])]).toEqual([103, 103, 103, 255]);
    // Over the byte bound, frames are left out and the summary says so.
    const bounded = await visionEvaluationSet(big, 640, { maxFrames: 48, maxWindows: 10, maxPixelBytes: 12 * 1024 * 1024 });
    expect('bytes' in bounded && bounded.summary).toContain('2 frames of the val split (5 images, 5 scaled down to 1280 px), 2 labelled boxes, 9.4 MiB; 3 left out over the 12 MiB bound');
  });
});

describe('the release\'s numbers', () => {
  it('turns every YOLO box into a pixel box the evaluation-set decoder accepts, or none when nothing of it is in the frame', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 4000 }), fc.integer({ min: 1, max: 4000 }), fc.double({ min: 0, max: 1, noNaN: true }), fc.double({ min: 0, max: 1, noNaN: true }), fc.double({ min: 0, max: 1, noNaN: true }), fc.double({ min: 0, max: 1, noNaN: true }), (width, height, cx, cy, w, h) => {
        const b = pixelBox({ classId: 0, cx, cy, w, h }, width, height);
        if (b === undefined) return;
        expect(b.x).toBeGreaterThanOrEqual(0);
        expect(b.y).toBeGreaterThanOrEqual(0);
        expect(b.w).toBeGreaterThan(0);
        expect(b.h).toBeGreaterThan(0);
        expect(b.x + b.w).toBeLessThanOrEqual(width);
        expect(b.y + b.h).toBeLessThanOrEqual(height);
      }),
    );
    expect(pixelBox({ classId: 1, cx: 0.5, cy: 0.5, w: 0.5, h: 0.25 }, 640, 480)).toEqual({ classId: 1, x: 160, y: 180, w: 320, h: 120 });
  });

  it('writes tolerances as the decimal strings the release schema takes, never below the value', () => {
    fc.assert(
      fc.property(fc.double({ min: 1e-9, max: 1e6, noNaN: true }), (x) => {
        const s = toleranceString(x);
        expect(s).toMatch(/^\d+(\.\d+)?$/);
        expect(Number.parseFloat(s)).toBeGreaterThanOrEqual(x);
        expect(Number.parseFloat(s)).toBeLessThanOrEqual(x * 1.11 + 1e-12);
      }),
    );
    expect(toleranceString(0.0305)).toBe('0.031');
  });

  it('budgets latency at 8 times the slower of p99 and the first run, never under 50 ms', () => {
    expect(latencyBudgetMs(9.06, 0.77)).toBe(73);
    expect(latencyBudgetMs(0.4, 12)).toBe(96);
    expect(latencyBudgetMs(0.2, 0.3)).toBe(50);
  });
});
