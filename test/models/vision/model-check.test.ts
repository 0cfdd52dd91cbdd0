import { readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeH264 } from '../../../sim/video/encode-h264.js';
import { runCli } from '../../support/gateway-process.js';
import { makeTempDir } from '../../support/temp-dir.js';
import { constantOutputs, pythonNames, ssdOutputs, yolov5Output, yolov8Output } from './layout-models.js';

const README = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'models', 'vision', 'README.md');

/**
 * `edgewise gateway --check` reads the vision stage's model files (their declared outputs and
 * metadata, nothing runs) and refuses, as a config problem, a model no decoder reads, classNames
 * of another count than the model's classes and a defectClass that is no class name.
 */
describe('--check reads vision models', () => {
  let dir: { path: string; remove: () => Promise<void> };
  beforeAll(async () => {
    dir = await makeTempDir();
    const clip = await encodeH264({ width: 64, height: 48, framerate: 10, frames: 2, picture: () => new Uint8Array(64 * 48 * 1.5).fill(128) });
    await writeFile(join(dir.path, 'clip.h264'), clip);
  }, 20_000);
  afterAll(async () => {
    await dir.remove();
  });

  /** A config with one camera and one pipeline per stage entry (each a YAML flow mapping). */
  async function check(name: string, stages: readonly string[], args: readonly string[] = ['--check']): Promise<{ code: number | null; stderr: string; file: string }> {
    const devices = stages.map((_, i) => `  - { id: cam-${i + 1}, type: camera, input: { file: clip.h264 } }\n`).join('');
    const pipelines = stages.map((s, i) => `  - id: p${i + 1}\n    source: cam-${i + 1}\n    stages:\n      - ${s}\n`).join('');
    const file = join(dir.path, `${name}.yaml`);
    await writeFile(file, `gateway:\n  id: gw-1\n  dataDir: data\nuplink:\n  url: mqtt://127.0.0.1:1\ndevices:\n${devices}pipelines:\n${pipelines}`);
    const { code, stderr } = await runCli(['gateway', '--config', file, ...args]);
    return { code, stderr, file };
  }

  it('a model whose outputs fit no decoder fails --check with exit code 2, naming the file and its shapes; a start refuses it the same way', async () => {
    await writeFile(join(dir.path, 'odd.onnx'), constantOutputs([1, 3, 64, 64], [{ name: 'output0', dims: [2, 3, 4], data: new Float32Array(24) }]));
    for (const args of [['--check'], []]) {
      const { code, stderr } = await check('odd', ['{ type: vision, model: { path: odd.onnx } }'], args);
      expect(code).toBe(2);
      expect(stderr).toContain(
        `pipelines[0].stages[0].model.path: expected a model whose outputs a vision decoder reads (yolov8 [1, 4+C, N], yolov5 [1, N, 5+C], ssd scores [1, N, 1+C] + boxes [1, N, 4], classification [1, C]), got "${dir.path}/odd.onnx", whose outputs output0 [2, 3, 4] fit no vision layout (yolov8 is [1, 4 + C, N] with a batch of 1, output0 [2, 3, 4] has 2;`,
      );
      expect(stderr).toMatch(/\(line 12\)/);
      expect(stderr).not.toMatch(/\n\s+at .+:\d+:\d+/);
    }
  }, 30_000);

  it('UltraFace forced to YOLOv8 or to classification is refused, saying why', async () => {
    await writeFile(join(dir.path, 'ultraface.onnx'), constantOutputs([1, 3, 240, 320], ssdOutputs(4420, 1, [])));
    const { code, stderr } = await check('forced', ['{ type: vision, model: { path: ultraface.onnx }, layout: yolov8 }', '{ type: vision, model: { path: ultraface.onnx }, task: classification }']);
    expect(code).toBe(2);
    expect(stderr).toContain('pipelines[0].stages[0].model.path: expected a model whose outputs a vision decoder reads');
    expect(stderr).toContain('whose outputs scores [1, 4420, 2], boxes [1, 4420, 4] fit not yolov8 (yolov8 has one output [1, 4 + C, N], the model has 2)');
    expect(stderr).toContain('pipelines[1].stages[0].model.path: expected');
    expect(stderr).toContain('fit no classification layout (classification has one output [1, C], the model has 2); they fit ssd: is it task detection?');
  });

  it('classNames of another count than the model has classes, and a defectClass that is none of its names, are problems at their keys', async () => {
    await writeFile(join(dir.path, 'named.onnx'), constantOutputs([1, 3, 64, 64], [yolov8Output(84, 3, [])], { names: pythonNames(['person', "people's car", 'dog']) }));
    const { code, stderr } = await check('counts', [
      // The README's example as it was: two names for the one-class built-in detector (every frame failed).
      '{ type: vision, classNames: [part, defective-part], defectClass: defective-part }',
      '{ type: vision, model: { path: named.onnx }, defectClass: cat }',
      '{ type: vision, model: { path: named.onnx }, classNames: [a, b] }',
    ]);
    expect(code).toBe(2);
    expect(stderr).toContain(`pipelines[0].stages[0].classNames: expected one name per class of the model, got 2 names, the model (output0 [1, 5, 240]) has 1 class as yolov8, in "`);
    expect(stderr).toContain(`pipelines[1].stages[0].defectClass: expected one of the class names of "${dir.path}/named.onnx" (person, people's car, dog), got "cat"`);
    expect(stderr).toContain(`pipelines[2].stages[0].classNames: expected one name per class of the model, got 2 names, the model (output0 [1, 7, 84]) has 3 classes as yolov8, in "${dir.path}/named.onnx" (line 22)`);
    expect(stderr).toContain('3 problems');
  });

  it('models of every layout pass, names from their metadata or the config', async () => {
    await writeFile(join(dir.path, 'v8.onnx'), constantOutputs([1, 3, 64, 64], [yolov8Output(84, 3, [])], { names: pythonNames(['person', "people's car", 'dog']) }));
    await writeFile(join(dir.path, 'v5.onnx'), constantOutputs([1, 3, 64, 64], [yolov5Output(84, 2, [])]));
    await writeFile(join(dir.path, 'face.onnx'), constantOutputs([1, 3, 240, 320], ssdOutputs(4420, 1, [])));
    await writeFile(join(dir.path, 'cls.onnx'), constantOutputs([1, 3, 32, 32], [{ name: 'logits', dims: [1, 3], data: new Float32Array(3) }]));
    const { code, stderr } = await check('every', [
      `{ type: vision, model: { path: v8.onnx }, defectClass: "people's car" }`,
      '{ type: vision, model: { path: v5.onnx }, classNames: [good, bad], defectClass: bad }',
      '{ type: vision, model: { path: face.onnx }, classNames: [face] }',
      '{ type: vision, model: { path: cls.onnx }, task: classification, classNames: [ok, jam, empty] }',
    ]);
    expect(stderr).toBe('');
    expect(code).toBe(0);
  });

  it("the README's example passes --check", async () => {
    const text = await readFile(README, 'utf8');
    const block = /```yaml\n(pipelines:[\s\S]*?)```/.exec(text)?.[1];
    expect(block).toContain('type: vision');
    const file = join(dir.path, 'readme.yaml');
    await writeFile(file, `gateway:\n  id: gw-1\n  dataDir: data\nuplink:\n  url: mqtt://127.0.0.1:1\ndevices:\n  - { id: cam-1, type: camera, input: { file: clip.h264 } }\n${block as string}`);
    const { code, stderr } = await runCli(['gateway', '--config', file, '--check']);
    expect(stderr).toBe('');
    expect(code).toBe(0);
  });
});
