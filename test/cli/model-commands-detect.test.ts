import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { CONVEYOR_CLASSES, writeConveyorYoloDataset } from '../../sim/datasets/conveyor-yolo.js';
import { useGatewayRig } from '../support/gateway-rig.js';
import { EdgewiseProcess, edgewise } from './edgewise-command.js';
import { operatorRepo, runConveyorGateway, type ManagedVisionStage } from './model-release-fixtures.js';

/**
 * Issue 17, test 1, as a quality engineer runs it: a YOLO dataset of the conveyor's parts on disk
 * (PNG stills, label text files, data.yaml naming `part` and `defective-part`), then the real
 * commands in child processes: `model train vision`, `model eval`, `model release`, `repo sign`,
 * `repo publish`, `repo serve`; a gateway that keeps the model up to date verifies the release
 * through TUF, activates it, and names the parts it sees with the dataset's class names.
 */
const EPOCHS = 8;
/**
 * The bar for `part`'s AP50 on the 40 val stills. Measured with this dataset (seed 1, 40 + 40
 * stills): 0.66 to 0.76 for seeds 1-3 at 8, 16 and 30 epochs (8 epochs, seed 1: 0.68), recall at
 * the card's threshold 0.94 to 1. A detector with boxes at random scores about 0 (the parts cover
 * a few percent of the frame). What the detector does not learn from 40 stills is to tell a
 * defective part from a good one (defects of a few pixels, the input scaled to 224 for whole
 * parts; 448 and 640 did no better): `defective-part` scores near 0 and nearly every part is
 * named `part`. A detector that finds every object but whose scores say nothing about good or
 * defective would score about the share of good parts among the objects (34 of 64 here, 0.53).
 */
const PART_AP50_BAR = 0.5;

describe('edgewise model train vision, eval and release on a YOLO dataset on disk, to a gateway (issue 17, test 1)', () => {
  const rig = useGatewayRig();
  const servers: EdgewiseProcess[] = [];
  afterEach(async () => {
    for (const s of servers.splice(0)) await s.stop();
  });

  it('trains a detector, evaluates it per class with an HTML report, releases it; signed, published and served, a gateway verifies and runs it and names parts with the dataset\'s class names', async () => {
    const d = rig.dir.path;
    const data = join(d, 'parts');
    const model = join(d, 'model');
    await writeConveyorYoloDataset(data, { train: 40, val: 40, seed: 1 });
    expect((await readdir(join(data, 'images', 'val'))).filter((n) => n.endsWith('.png'))).toHaveLength(40);
    const valTruths = await classCounts(join(data, 'labels', 'val'));

    const train = await edgewise(['model', 'train', 'vision', '--data', data, '--out', model, '--epochs', String(EPOCHS)]);
    expect(train.code, train.stderr).toBe(0);
    expect(train.json).toMatchObject({ train: 'detect', out: model, classes: [...CONVEYOR_CLASSES], images: 40, epochs: EPOCHS });
    // Off a TTY: what is in the dataset, then a plain line per epoch.
    expect(train.stderr).toContain('train: 40 images');
    expect(train.stderr.split('\n').filter((l) => new RegExp(`^epoch \\d+/${EPOCHS}, step (\\d+)/\\1, loss \\S+, ETA \\S+$`).test(l))).toHaveLength(EPOCHS);
    const card = JSON.parse(await readFile(join(model, 'model.json'), 'utf8')) as { threshold: number; input: { mean: number[]; std: number[] } };

    const evaluated = await edgewise(['model', 'eval', '--model', model, '--data', data]);
    expect(evaluated.code, evaluated.stderr).toBe(0);
    const line = evaluated.json as { eval: string; images: number; threshold: number; per_class: Record<string, { truths: number; ap50: number; ap50_95: number; recall: number }> };
    expect(line).toMatchObject({ eval: 'detect', images: 40, threshold: card.threshold });
    expect(Object.keys(line.per_class)).toEqual([...CONVEYOR_CLASSES]);
    for (const [i, name] of CONVEYOR_CLASSES.entries()) expect(line.per_class[name]?.truths, name).toBe(valTruths[i]);
    const part = line.per_class['part'] as { ap50: number; ap50_95: number; recall: number };
    console.info(`model eval: ${JSON.stringify(line.per_class)}`);
    expect(part.ap50).toBeGreaterThanOrEqual(PART_AP50_BAR);
    expect(part.recall).toBeGreaterThanOrEqual(0.8);
    expect(part.ap50_95).toBeLessThan(part.ap50);
    const report = await readFile(join(model, 'eval', 'report.html'), 'utf8');
    for (const name of CONVEYOR_CLASSES) expect(report).toContain(name);
    expect(evaluated.stdout).toContain(`report: ${join(model, 'eval', 'report.html')}`);

    // A repository as an operator makes one; the release, then the commands it says come next.
    const { repo, key } = await operatorRepo(join(d, 'fleet'));
    const released = await edgewise(['model', 'release', '--model', model, '--repo', repo, '--model-name', 'parts', '--data', data]);
    expect(released.code, released.stderr).toBe(0);
    expect(released.json).toMatchObject({ release: 'parts', counter: 1, target: 'models/parts/1/model.onnx', task: 'detect', classes: [...CONVEYOR_CLASSES], staged: 'targets' });
    expect(released.stdout).toContain('evaluation set: 40 frames of the val split');
    for (const [role, args] of [
      ['root', ['repo', 'sign', '--repo', repo, '--role', 'root', '--key', await key('root')]],
      ['targets', ['repo', 'sign', '--repo', repo, '--role', 'targets', '--key', await key('targets')]],
      ['publish', ['repo', 'publish', '--repo', repo, '--snapshot-key', await key('snapshot'), '--timestamp-key', await key('timestamp')]],
    ] as const) {
      const r = await edgewise(args, 30_000);
      expect(r.code, `${role}: ${r.stderr}`).toBe(0);
    }
    const server = EdgewiseProcess.start(['repo', 'serve', '--repo', repo, '--http', '127.0.0.1:0']);
    servers.push(server);
    const url = /http:\/\/127\.0\.0\.1:\d+/.exec(await server.line((l) => l.startsWith('serving '), 'the repository served'))?.[0] as string;

    // The gateway's stage as the release printed it: the detector normalises inside its graph (mean 0, std 1), the card's threshold.
    const printed = /^gateway stage: (\{.*\}) \(with `updates: \{ models: \[parts\] \}`\)$/m.exec(released.stdout)?.[1];
    expect(printed, released.stdout).toBeDefined();
    const stage = parseYaml(printed as string) as ManagedVisionStage;
    expect(stage).toEqual({ type: 'vision', model: { managed: 'parts' }, mean: [0, 0, 0], std: [1, 1, 1], confidence: card.threshold });
    expect(card.input).toMatchObject({ mean: [0, 0, 0], std: [1, 1, 1] });

    const { reports, entered, events } = await runConveyorGateway(rig, { url, repo, modelName: 'parts', stage });
    expect(reports.filter((r) => r.release === 1).map((r) => `${r.step}:${r.outcome}`)).toEqual(['check:ok', 'download:ok', 'install:ok', 'health:ok', 'activate:ok']);
    expect(entered.data).toMatchObject({ model: { name: 'parts', version: released.json?.['version'] } });
    expect(CONVEYOR_CLASSES).toContain((entered.data as { className: string }).className);
    const named = events.map((e) => (e.data as { className?: string }).className).filter((c) => c !== undefined);
    expect(named.every((c) => (CONVEYOR_CLASSES as readonly string[]).includes(c)), named.join(', ')).toBe(true);
    console.info(`gateway events by class: ${JSON.stringify(Object.fromEntries(CONVEYOR_CLASSES.map((c) => [c, named.filter((n) => n === c).length])))}`);
  }, 180_000);
});

/** Objects per class id in a folder of YOLO label files. */
async function classCounts(labels: string): Promise<number[]> {
  const counts: number[] = [];
  for (const f of await readdir(labels)) {
    for (const row of (await readFile(join(labels, f), 'utf8')).split('\n')) {
      const id = Number(row.split(' ')[0]);
      if (row.trim() !== '') counts[id] = (counts[id] ?? 0) + 1;
    }
  }
  return counts;
}
