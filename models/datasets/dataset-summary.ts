import type { SensorLog, VisionDataset } from './types.js';

/**
 * What a dataset holds, in the numbers a quality engineer checks before training on it (the
 * CLI prints it; the evaluation report shows it): images per split, and per class the objects
 * (detection) or images (classification). A class with none in train is the usual mistake.
 */
export interface SplitSummary {
  readonly images: number;
  /** Detection: images without any object. */
  readonly background: number;
  /** By class id: objects (detection) or images (classification). */
  readonly perClass: readonly number[];
}

export interface VisionDatasetSummary {
  readonly task: VisionDataset['task'];
  readonly classNames: readonly string[];
  readonly train: SplitSummary;
  readonly val: SplitSummary;
}

export function summarizeVisionDataset(d: VisionDataset): VisionDatasetSummary {
  const split = (samples: VisionDataset['train']): SplitSummary => {
    const perClass = new Array<number>(d.classNames.length).fill(0);
    let background = 0;
    for (const s of samples) {
      if ('boxes' in s) {
        if (s.boxes.length === 0) background += 1;
        for (const b of s.boxes) perClass[b.classId] = (perClass[b.classId] as number) + 1;
      } else perClass[s.classId] = (perClass[s.classId] as number) + 1;
    }
    return { images: samples.length, background, perClass };
  };
  return { task: d.task, classNames: d.classNames, train: split(d.train), val: split(d.val) };
}

/** Lines for a terminal: one per split, then a warning line per class missing from train. */
export function formatVisionSummary(s: VisionDatasetSummary): string[] {
  const what = s.task === 'detect' ? 'objects' : 'images';
  const line = (name: string, p: SplitSummary): string =>
    `${name}: ${p.images} image${p.images === 1 ? '' : 's'}${s.task === 'detect' ? ` (${p.background} without objects)` : ''}; ${what} per class: ${s.classNames.map((c, i) => `${c} ${p.perClass[i] ?? 0}`).join(', ')}`;
  const out = [line('train', s.train), line('val', s.val)];
  s.classNames.forEach((c, i) => {
    if ((s.train.perClass[i] ?? 0) === 0) out.push(`warning: class "${c}" has no ${what} in train: the model cannot learn it`);
  });
  return out;
}

export interface SensorLogSummary {
  readonly file: string;
  readonly rows: number;
  readonly seconds: number;
  /** Rows a second, from the median step between timestamps (0 for a single row). */
  readonly rateHz: number;
  /** Rows labelled abnormal, or null for an unlabelled log. */
  readonly abnormalRows: number | null;
}

export function summarizeSensorLog(log: SensorLog): SensorLogSummary {
  const t = log.timestampsMs;
  const steps: number[] = [];
  // A bounded sample of steps: a median of 10,000 is as good as one of 10 million.
  const stride = Math.max(1, Math.floor((t.length - 1) / 10_000));
  for (let i = stride; i < t.length; i += stride) steps.push(((t[i] as number) - (t[i - stride] as number)) / stride);
  steps.sort((a, b) => a - b);
  const median = steps[steps.length >> 1] ?? 0;
  let abnormal: number | null = null;
  if (log.labels !== null) {
    abnormal = 0;
    for (const l of log.labels) abnormal += l;
  }
  return { file: log.file, rows: log.rows, seconds: t.length > 0 ? ((t[t.length - 1] as number) - (t[0] as number)) / 1000 : 0, rateHz: median > 0 ? 1000 / median : 0, abnormalRows: abnormal };
}
