import { readdir, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { readClassFolders, type ClassFolderOptions } from './class-folders.js';
import { DatasetError } from './dataset-error.js';
import type { VisionDataset } from './types.js';
import { readYoloDataset } from './yolo-dataset.js';

/**
 * `edgewise model train vision --data DIR [--task ...]`: the layout decides the task when none
 * is given. A YAML file (data.yaml, or DIR is one) means YOLO detection; otherwise class folders.
 */
export async function readVisionDataset(dir: string, task?: 'detect' | 'classify', options: ClassFolderOptions = {}): Promise<VisionDataset> {
  if (task === 'detect') return readYoloDataset(dir, options);
  if (task === 'classify') return readClassFolders(dir, options);
  const path = resolve(dir);
  let isDir: boolean;
  try {
    isDir = (await stat(path)).isDirectory();
  } catch {
    throw DatasetError.at(path, 'no such file or folder');
  }
  const hasYaml = !isDir || (await readdir(path)).some((n) => /\.ya?ml$/i.test(n));
  return hasYaml ? readYoloDataset(path, options) : readClassFolders(path, options);
}
