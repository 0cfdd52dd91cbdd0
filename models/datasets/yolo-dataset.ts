import { readdir, readFile, stat } from 'node:fs/promises';
import { basename, dirname, extname, join, relative, resolve, sep } from 'node:path';
import { DatasetError, ProblemList, type OnDatasetWarning } from './dataset-error.js';
import { parseDataYaml, type DataYaml } from './data-yaml.js';
import { checkImageHeaders, imageLoader, isHidden, isImageFile, listImages } from './image-files.js';
import { parseLabelFile } from './yolo-labels.js';
import type { DetectionDataset, DetectionSample, LabelledBox } from './types.js';

export interface DatasetReadOptions {
  /** Told about oddities that do not stop the reading (a label file without its image). */
  readonly onWarning?: OnDatasetWarning;
}

const YAML_NAMES = ['data.yaml', 'data.yml'];

/**
 * A detection dataset in the Ultralytics YOLO layout (`path` may be the folder or its YAML file):
 *   data.yaml                 names, and where train and val are (see data-yaml.ts)
 *   images/train/*.jpg|png    labels/train/*.txt   (one `class cx cy w h` line per object)
 *   images/val/...            labels/val/...
 * An image's label file is found as Ultralytics finds it: the last `/images/` of its path
 * becomes `/labels/` and the extension `.txt` (no /images/ in the path: beside the image). No
 * label file: an image without objects. Every problem (a bad label line, an image that is not
 * one, an empty split, ...) is collected and thrown as one DatasetError.
 */
export async function readYoloDataset(path: string, options: DatasetReadOptions = {}): Promise<DetectionDataset> {
  const warn = options.onWarning ?? (() => {});
  const yamlFile = await findDataYaml(resolve(path));
  const problems = new ProblemList();
  const yaml = parseDataYaml(await readFile(yamlFile, 'utf8'), yamlFile, problems);
  if (yaml === undefined) {
    problems.throwIfAny();
    throw DatasetError.at(yamlFile, 'cannot be read');
  }
  const trainFiles = await splitImages(yaml, 'train', problems);
  const valFiles = await splitImages(yaml, 'val', problems);
  const inTrain = new Set(trainFiles);
  const both = valFiles.filter((f) => inTrain.has(f));
  if (both.length > 0) warn({ file: yamlFile, message: `${both.length} images are in both train and val (e.g. ${both[0]}): the validation scores will flatter the model` });

  const samples = async (files: readonly string[]): Promise<DetectionSample[]> => {
    const out: DetectionSample[] = [];
    for (const file of files) out.push({ file, boxes: await readLabels(labelPathOf(file), yaml.classNames.length, problems), load: imageLoader(file) });
    return out;
  };
  const train = await samples(trainFiles);
  const val = await samples(valFiles);
  await warnOrphanLabels([...trainFiles, ...valFiles], warn);
  await checkImageHeaders([...new Set([...trainFiles, ...valFiles])], problems);
  problems.throwIfAny();
  return { task: 'detect', root: yaml.root, classNames: yaml.classNames, train, val };
}

/** Where Ultralytics looks for an image's labels: the last /images/ becomes /labels/, the extension .txt. */
export function labelPathOf(image: string): string {
  const from = `${sep}images${sep}`;
  const i = image.lastIndexOf(from);
  const moved = i < 0 ? image : `${image.slice(0, i)}${sep}labels${sep}${image.slice(i + from.length)}`;
  return moved.slice(0, moved.length - extname(moved).length) + '.txt';
}

async function findDataYaml(path: string): Promise<string> {
  let isDir: boolean;
  try {
    isDir = (await stat(path)).isDirectory();
  } catch {
    throw DatasetError.at(path, 'no such file or folder');
  }
  if (!isDir) return path;
  const names = await readdir(path);
  for (const n of YAML_NAMES) if (names.includes(n)) return join(path, n);
  const yamls = names.filter((n) => /\.ya?ml$/i.test(n));
  if (yamls.length === 1) return join(path, yamls[0] as string);
  if (yamls.length > 1) throw DatasetError.at(path, `several YAML files (${yamls.join(', ')}): name the dataset's one, or call it data.yaml`);
  throw DatasetError.at(path, 'no data.yaml: a YOLO dataset needs one with the class names (names: [scratch, dent]) beside images/ and labels/');
}

/** The image files of one split, from data.yaml's entries (or images/<split> by default). */
async function splitImages(yaml: DataYaml, split: 'train' | 'val', problems: ProblemList): Promise<string[]> {
  const where = yaml[split] ?? [join(yaml.root, 'images', split)];
  const files: string[] = [];
  let found = 0;
  for (const entry of where) {
    let isDir: boolean;
    try {
      isDir = (await stat(entry)).isDirectory();
    } catch {
      const hint = yaml[split] === undefined ? ` (data.yaml has no \`${split}\`, so the default images/${split} was tried)` : '';
      problems.add(yaml.file, `${split}: ${entry} does not exist${hint}`);
      continue;
    }
    found += 1;
    if (isDir) files.push(...(await listImages(entry)));
    else if (extname(entry).toLowerCase() === '.txt') files.push(...(await imageList(entry, problems)));
    else problems.add(yaml.file, `${split}: ${entry} is neither a folder of images nor a .txt list of them`);
  }
  const unique = [...new Set(files)];
  if (unique.length === 0 && found > 0 && !problems.full) problems.add(yaml.file, `${split}: no images (*.jpg, *.jpeg, *.png) in ${where.map((w) => relative(yaml.root, w) || '.').join(', ')}: every split needs at least one`);
  return unique;
}

/** A .txt list of image paths, one a line, relative to the list's folder. */
async function imageList(file: string, problems: ProblemList): Promise<string[]> {
  const lines = (await readFile(file, 'utf8')).replace(/^\uFEFF/, '').split(/\r\n|\n|\r/);
  const out: string[] = [];
  for (let i = 0; i < lines.length; i += 1) {
    const line = (lines[i] as string).trim();
    if (line === '' || line.startsWith('#')) continue;
    const image = resolve(dirname(file), line);
    if (!isImageFile(image)) {
      problems.add(file, `${line}: not a .jpg, .jpeg or .png file`, i + 1);
      continue;
    }
    try {
      await stat(image);
      out.push(image);
    } catch {
      problems.add(file, `${line}: no such image`, i + 1);
    }
  }
  return out;
}

async function readLabels(file: string, classCount: number, problems: ProblemList): Promise<LabelledBox[]> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return []; // no label file: background, as in Ultralytics
    problems.add(file, `cannot read the label file: ${(err as Error).message}`);
    return [];
  }
  return parseLabelFile(text, file, classCount, problems);
}

/** Label files that no image claims: most often an image deleted, or renamed, after labelling. */
async function warnOrphanLabels(images: readonly string[], warn: OnDatasetWarning): Promise<void> {
  const claimed = new Set(images.map(labelPathOf));
  const folders = new Set(images.map((f) => dirname(labelPathOf(f))));
  let orphans = 0;
  let first = '';
  for (const folder of folders) {
    let names: string[];
    try {
      names = await readdir(folder);
    } catch {
      continue;
    }
    for (const n of names) {
      // classes.txt is labelImg's and YOLO-mark's list of names, not a label file.
      if (isHidden(n) || extname(n).toLowerCase() !== '.txt' || basename(n) === 'classes.txt') continue;
      const f = join(folder, n);
      if (claimed.has(f)) continue;
      orphans += 1;
      if (first === '') first = f;
    }
  }
  if (orphans > 0) warn({ file: first, message: `label file without an image${orphans > 1 ? ` (and ${orphans - 1} more like it)` : ''}: its objects are not used` });
}
