import { readdir, stat } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import { DatasetError, ProblemList, type OnDatasetWarning } from './dataset-error.js';
import { checkImageHeaders, imageLoader, isHidden, isImageFile, listImages } from './image-files.js';
import type { ClassificationDataset, ClassificationSample } from './types.js';
import type { DatasetReadOptions } from './yolo-dataset.js';

export interface ClassFolderOptions extends DatasetReadOptions {
  /** Flat layout only: the share of each class held out for validation. Default 0.2. */
  readonly valShare?: number;
  /** Flat layout only: which images go to val (the same seed, the same split). Default 0. */
  readonly seed?: number;
}

/**
 * Names of the validation folder, in the order looked for (Roboflow and Kaggle exports say
 * `valid`; Ultralytics' classifier falls back to `test` too).
 */
const VAL_FOLDERS = ['val', 'valid', 'validation', 'test'];

/**
 * A classification dataset, one folder per class (the folder's name is the class's):
 *   DIR/train/<class>/*.jpg|png  +  DIR/val/<class>/...   (split by the user), or
 *   DIR/<class>/*.jpg|png                                  (split here: see splitFlat)
 * Images may sit at any depth inside their class folder. Class ids follow the names sorted.
 */
export async function readClassFolders(dir: string, options: ClassFolderOptions = {}): Promise<ClassificationDataset> {
  const root = resolve(dir);
  const warn = options.onWarning ?? (() => {});
  const top = await subfolders(root);
  const valName = VAL_FOLDERS.find((v) => top.includes(v));
  const problems = new ProblemList();
  let classNames: string[];
  let train: ClassificationSample[];
  let val: ClassificationSample[];
  if (top.includes('train')) {
    if (valName === undefined) throw DatasetError.at(root, 'a train/ folder but no val/ folder: add val/<class>/ images, or put the class folders directly in this folder to have a share of each held out');
    classNames = await subfolders(join(root, 'train'));
    const valClasses = await subfolders(join(root, valName));
    for (const c of valClasses) if (!classNames.includes(c)) problems.add(join(root, valName, c), `class "${c}" is in ${valName}/ but not in train/: a model cannot learn it`);
    for (const c of classNames) if (!valClasses.includes(c)) warn({ file: join(root, valName), message: `no ${valName}/${c}/ folder: class "${c}" is not evaluated` });
    train = await samplesOf(join(root, 'train'), classNames, problems);
    val = await samplesOf(join(root, valName), classNames.filter((c) => valClasses.includes(c)), problems);
    if (val.length === 0 && !problems.full) problems.add(join(root, valName), 'the val split has no images');
  } else {
    classNames = top;
    ({ train, val } = splitFlat(await samplesOf(root, classNames, problems), options.valShare ?? 0.2, options.seed ?? 0, warn, classNames, root));
  }
  if (classNames.length < 2) throw DatasetError.at(root, `found ${classNames.length === 0 ? 'no class folders' : `one class folder (${classNames[0]})`}: a classifier needs a folder per class, at least two (DIR/<class>/*.jpg, or DIR/train/<class>/ and DIR/val/<class>/)`);
  await checkImageHeaders([...train, ...val].map((s) => s.file), problems);
  problems.throwIfAny();
  return { task: 'classify', root, classNames, train, val };
}

async function subfolders(dir: string): Promise<string[]> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch {
    throw DatasetError.at(dir, 'no such folder');
  }
  return entries
    .filter((e) => e.isDirectory() && !isHidden(e.name))
    .map((e) => e.name)
    .sort();
}

/** The images of each class folder under `dir`; an empty class folder is a problem. */
async function samplesOf(dir: string, classNames: readonly string[], problems: ProblemList): Promise<ClassificationSample[]> {
  const out: ClassificationSample[] = [];
  for (let classId = 0; classId < classNames.length; classId += 1) {
    const folder = join(dir, classNames[classId] as string);
    const files = await listImages(folder);
    if (files.length === 0) problems.add(folder, `class folder with no images (*.jpg, *.jpeg, *.png)${(await hasFiles(folder)) ? ': its files are of other kinds' : ''}`);
    for (const file of files) out.push({ file, classId, load: imageLoader(file) });
  }
  return out;
}

async function hasFiles(folder: string): Promise<boolean> {
  const names = await readdir(folder);
  for (const n of names) if (!isHidden(n) && !isImageFile(n) && (await stat(join(folder, n))).isFile()) return true;
  return false;
}

/**
 * The flat layout's split: an image goes to val when a hash of (seed, its path inside the
 * dataset) falls in the lowest `share` of the hash range; a class of two or more images that
 * gets none this way gives its lowest-hash image. A hash of each name rather than a shuffle:
 * an image's side depends on its name alone, so adding photos later moves none of the old ones
 * between train and val, and scores before and after stay comparable.
 */
function splitFlat(
  samples: readonly ClassificationSample[],
  share: number,
  seed: number,
  warn: OnDatasetWarning,
  classNames: readonly string[],
  root: string,
): { train: ClassificationSample[]; val: ClassificationSample[] } {
  if (!(share > 0 && share < 1)) throw new RangeError(`valShare must be between 0 and 1, got ${share}`);
  const train: ClassificationSample[] = [];
  const val: ClassificationSample[] = [];
  for (let c = 0; c < classNames.length; c += 1) {
    const ranked = samples
      .filter((s) => s.classId === c)
      .map((s) => ({ s, h: hash32(`${seed}:${relative(root, s.file)}`) }))
      .sort((a, b) => a.h - b.h || (a.s.file < b.s.file ? -1 : 1));
    if (ranked.length === 1) warn({ file: join(root, classNames[c] as string), message: `only one image: class "${classNames[c]}" is trained on but not evaluated` });
    const below = ranked.filter((r) => r.h < share * 2 ** 32).length;
    const held = ranked.length < 2 ? 0 : Math.max(1, below);
    const byFile = (a: ClassificationSample, b: ClassificationSample): number => (a.file < b.file ? -1 : 1);
    val.push(...ranked.slice(0, held).map((r) => r.s).sort(byFile));
    train.push(...ranked.slice(held).map((r) => r.s).sort(byFile));
  }
  return { train, val };
}

/** FNV-1a, 32 bits: a stable, well-spread rank for the split (not for security). */
function hash32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i += 1) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}
