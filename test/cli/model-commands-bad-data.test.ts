import { cp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadCheckpoint } from '../../models/model-dir/model-dir.js';
import { writeClassFolderDataset } from '../../sim/datasets/class-folders.js';
import { writeConveyorYoloDataset } from '../../sim/datasets/conveyor-yolo.js';
import { writeMotorCsv } from '../../sim/datasets/motor-csv.js';
import { makeTempDir } from '../support/temp-dir.js';
import { waitFor } from '../support/wait-for.js';
import { EdgewiseProcess, edgewise } from './edgewise-command.js';

/**
 * Issue 17, test 5 as a user meets it: a dataset on disk with one thing wrong, and the real
 * `edgewise model train` and `model eval`: exit 2, and a message on stderr that names the file
 * (and the line, for a text file) and says what is wrong, before any training is done. Then a
 * training stopped with Ctrl-C and resumed with `--resume`.
 */
let dir: { path: string; remove: () => Promise<void> };
/** Good datasets, copied per case and spoiled in one place. */
let pngSet: string;
let jpegSet: string;
/** A detector trained on pngSet (one epoch: `model eval` needs a model, not a good one). */
let detector: string;

beforeAll(async () => {
  dir = await makeTempDir('edgewise-model-bad-');
  pngSet = join(dir.path, 'good-png');
  jpegSet = join(dir.path, 'good-jpeg');
  await writeConveyorYoloDataset(pngSet, { train: 4, val: 2, seed: 3 });
  await writeConveyorYoloDataset(jpegSet, { train: 4, val: 2, seed: 3, format: 'jpg' });
  detector = join(dir.path, 'detector');
  const trained = await edgewise(['model', 'train', 'vision', '--data', pngSet, '--out', detector, '--epochs', '1']);
  if (trained.code !== 0) throw new Error(`training on the good dataset failed: ${trained.stderr}`);
}, 60_000);
afterAll(async () => {
  await dir.remove();
});

/** Replaces line `line` (1-based) of a text file. */
async function setLine(file: string, line: number, text: string): Promise<void> {
  const lines = (await readFile(file, 'utf8')).split('\n');
  lines[line - 1] = text;
  await writeFile(file, lines.join('\n'));
}

/** Keeps the first third of a file: its header still reads (size, format), its data stops. */
async function cutShort(file: string): Promise<void> {
  const bytes = await readFile(file);
  await writeFile(file, bytes.subarray(0, Math.floor(bytes.length / 3)));
}

interface BadCase {
  readonly name: string;
  readonly from: () => string;
  readonly spoil: (data: string) => Promise<void>;
  /** The message, after the dataset's folder. */
  readonly message: RegExp;
  /** `model eval` reads the val split's images only (every label file of both splits). */
  readonly evalToo: boolean;
}

const CASES: readonly BadCase[] = [
  {
    name: 'a label outside [0, 1] (pixels instead of shares)',
    from: () => pngSet,
    spoil: (d) => setLine(join(d, 'labels/train/000001.txt'), 2, '0 1.250000 0.447222 0.087500 0.177778'),
    message: /\/labels\/train\/000001\.txt:2: cx 1\.250000 is outside \[0, 1\]/,
    evalToo: true,
  },
  {
    name: 'a class id beyond the names in data.yaml',
    from: () => pngSet,
    spoil: (d) => setLine(join(d, 'labels/val/000000.txt'), 1, '7 0.350781 0.770833 0.098437 0.180556'),
    message: /\/labels\/val\/000000\.txt:1: class 7 is beyond the 2 class names \(ids 0\.\.1\)/,
    evalToo: true,
  },
  {
    name: 'garbage bytes named .png',
    from: () => pngSet,
    spoil: (d) => writeFile(join(d, 'images/train/000002.png'), 'exported from the wrong tool\n'),
    message: /\/images\/train\/000002\.png: image does not decode: not a PNG or JPEG image/,
    evalToo: true,
  },
  {
    name: 'a JPEG cut short in the train split (its header reads fine)',
    from: () => jpegSet,
    spoil: (d) => cutShort(join(d, 'images/train/000002.jpg')),
    message: /\/images\/train\/000002\.jpg: image does not decode: JPEG .*\(the file is cut short: \d+ bytes and no JPEG end marker/,
    evalToo: false,
  },
  {
    name: 'a JPEG cut short in the val split',
    from: () => jpegSet,
    spoil: (d) => cutShort(join(d, 'images/val/000001.jpg')),
    message: /\/images\/val\/000001\.jpg: image does not decode: JPEG .*\(the file is cut short/,
    evalToo: true,
  },
  {
    name: 'an empty split',
    from: () => pngSet,
    spoil: async (d) => {
      for (const sub of ['images/val', 'labels/val']) for (const f of await readdir(join(d, sub))) await rm(join(d, sub, f));
    },
    message: /\/data\.yaml: val: no images \(\*\.jpg, \*\.jpeg, \*\.png\) in images\/val: every split needs at least one/,
    evalToo: true,
  },
];

describe('edgewise model train vision / model eval on a bad dataset: exit 2, naming the file and line (issue 17, test 5)', () => {
  for (const c of CASES) {
    it(c.name, async () => {
      const data = join(dir.path, c.name.replace(/\W+/g, '-'));
      await cp(c.from(), data, { recursive: true });
      await c.spoil(data);
      const out = join(data, 'model');
      const train = await edgewise(['model', 'train', 'vision', '--data', data, '--out', out, '--epochs', '2']);
      expect(train.code, train.stderr).toBe(2);
      expect(train.stderr).toMatch(c.message);
      // Refused before any training: no epoch ran, no model was written.
      expect(train.stderr).not.toMatch(/^epoch /m);
      expect(train.stdout).toBe('');
      await expect(stat(join(out, 'model.onnx'))).rejects.toThrow(/ENOENT/);
      if (c.evalToo) {
        const evaluated = await edgewise(['model', 'eval', '--model', detector, '--data', data]);
        expect(evaluated.code, evaluated.stderr).toBe(2);
        expect(evaluated.stderr).toMatch(c.message);
        expect(evaluated.json).toBeNull();
      }
    });
  }

  it('a picture in a class folder that is not one', async () => {
    const data = join(dir.path, 'shapes');
    await writeClassFolderDataset(data, { train: 12, val: 6, seed: 2 });
    const folder = join(data, 'train', 'hexagon');
    const victim = (await readdir(folder)).sort()[0] as string;
    await writeFile(join(folder, victim), 'not a picture');
    const train = await edgewise(['model', 'train', 'vision', '--task', 'classify', '--data', data, '--out', join(data, 'model'), '--epochs', '2']);
    expect(train.code, train.stderr).toBe(2);
    expect(train.stderr).toContain(`${join(folder, victim)}: image does not decode: not a PNG or JPEG image`);
  });
});

describe('edgewise model train anomaly / model eval on a CSV with a reading that is not a number (issue 17, test 5)', () => {
  it('exits 2 naming the file and line, in training and in evaluation', async () => {
    const good = join(dir.path, 'motor.csv');
    const bad = join(dir.path, 'motor-bad.csv');
    await writeMotorCsv(good, { seconds: 60, seed: 4 });
    const lines = (await readFile(good, 'utf8')).split('\n');
    // Line 4 of the file (the header is line 1): its temperature column as a logger writes a dropout.
    const cells = (lines[3] as string).split(',');
    cells[2] = 'n/a';
    lines[3] = cells.join(',');
    await writeFile(bad, lines.join('\n'));
    const message = `${bad}:4: temperature: "n/a" is not a number`;

    const train = await edgewise(['model', 'train', 'anomaly', '--data', bad, '--out', join(dir.path, 'motor-bad-model')]);
    expect(train.code, train.stderr).toBe(2);
    expect(train.stderr).toContain(message);
    expect(train.stderr).not.toMatch(/^epoch /m);

    const model = join(dir.path, 'motor-model');
    const trained = await edgewise(['model', 'train', 'anomaly', '--data', good, '--out', model, '--epochs', '2']);
    expect(trained.code, trained.stderr).toBe(0);
    const evaluated = await edgewise(['model', 'eval', '--model', model, '--data', bad]);
    expect(evaluated.code, evaluated.stderr).toBe(2);
    expect(evaluated.stderr).toContain(message);
  });
});

describe('edgewise model train vision stopped with Ctrl-C and resumed with --resume', () => {
  it('stops with exit 1 keeping the last finished epoch, and --resume finishes the training with the model an unbroken one makes', async () => {
    const data = join(dir.path, 'belt');
    // 20 images: an epoch of a few seconds, so the Ctrl-C after epoch 1 lands with epochs to go.
    await writeConveyorYoloDataset(data, { train: 20, val: 4, seed: 5 });
    const epochs = 5;
    const args = (out: string): string[] => ['model', 'train', 'vision', '--data', data, '--out', out, '--epochs', String(epochs), '--seed', '2'];
    const broken = join(dir.path, 'belt-broken');

    const first = EdgewiseProcess.start(args(broken));
    // Ctrl-C once the first epoch's checkpoint is on disk.
    await waitFor(async () => ((await loadCheckpoint(broken))?.epoch ?? 0) >= 1, 'the checkpoint of epoch 1', 60_000);
    first.child.kill('SIGINT');
    const stopped = await first.closed;
    expect(stopped.code, first.stderr.join('\n')).toBe(1);
    const stderr = first.stderr.join('\n');
    expect(stderr).toContain('stopping; the checkpoint of the last finished epoch is kept: run again with --resume');
    expect(stderr).toContain(`error: training stopped; the last finished epoch is kept in ${broken}: run again with --resume to go on`);
    const kept = (await loadCheckpoint(broken))?.epoch as number;
    expect(kept).toBeGreaterThanOrEqual(1);
    expect(kept).toBeLessThan(epochs);
    await expect(stat(join(broken, 'model.onnx'))).rejects.toThrow(/ENOENT/);

    const resumed = await edgewise([...args(broken), '--resume']);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.json).toMatchObject({ train: 'detect', epochs });
    // It goes on from the epoch after the checkpoint's.
    const epochLines = resumed.stderr.split('\n').filter((l) => l.startsWith('epoch '));
    expect(epochLines[0]).toMatch(new RegExp(`^epoch ${kept + 1}/${epochs},`));
    expect(epochLines).toHaveLength(epochs - kept);
    expect(await loadCheckpoint(broken)).toBeNull();

    const straight = join(dir.path, 'belt-straight');
    const whole = await edgewise(args(straight));
    expect(whole.code, whole.stderr).toBe(0);
    expect(resumed.json?.['loss']).toBe(whole.json?.['loss']);
    expect(Buffer.compare(await readFile(join(broken, 'model.onnx')), await readFile(join(straight, 'model.onnx')))).toBe(0);
  }, 120_000);
});
