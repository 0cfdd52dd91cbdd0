import type { TensorSpec } from '../../engine/engine.js';
import { classificationDecoder } from './classification.js';
import { describeOutput, type FittedDecoder, type Layout, type LayoutDecoder, type VisionTask } from './decoder.js';
import { ssdDecoder } from './ssd.js';
import { yolov5Decoder } from './yolov5.js';
import { yolov8Decoder } from './yolov8.js';

/** Every layout the stage decodes. Adding one is a file in this folder and a line here. */
export const DECODERS: readonly LayoutDecoder[] = [yolov8Decoder, yolov5Decoder, ssdDecoder, classificationDecoder];

export interface DecoderChoice {
  /** Only layouts of this task (undefined: any). */
  readonly task?: VisionTask | undefined;
  readonly layout?: Layout | 'auto' | undefined;
  /** Names from the config: the model must have exactly as many classes. */
  readonly classNames?: readonly string[] | undefined;
  /** Names from the model's metadata: used when the config has none and their count fits. */
  readonly metadataNames?: readonly string[] | undefined;
}

export type Selection =
  | {
      readonly ok: true;
      readonly decoder: FittedDecoder;
      readonly classNames: readonly string[] | undefined;
      readonly namesFrom: 'config' | 'metadata' | undefined;
      /** Things worth a warning that do not stop the model (metadata names that do not fit). */
      readonly notes: readonly string[];
    }
  /** `key`: the config key to change (`model`: the model itself fits nothing). */
  | { readonly ok: false; readonly key: 'model' | 'classNames' | 'layout' | 'task'; readonly reason: string }
  /** Symbolic dimensions (`--check` reads declared shapes) leave the choice open; the load decides on real ones. */
  | { readonly ok: 'undetermined' };

const plural = (n: number, what: string): string => `${n} ${what}${n === 1 ? '' : 'es'}`;
const classesOf = (d: FittedDecoder): string => `${d.classes === undefined ? 'some' : plural(d.classes, 'class')} as ${d.layout}`;
/** The readings worth naming in a message: the plausible ones, if any. */
const readings = (ds: readonly FittedDecoder[]): string => {
  const plausible = ds.filter((d) => d.plausible);
  return (plausible.length > 0 ? plausible : ds).map(classesOf).join(' or ');
};

/**
 * The decoder for a model's outputs: the configured layout, or the one layout (of the task)
 * that fits (auto). Between layouts that both fit, the class count (of classNames, else of the
 * metadata names) decides, then plausibility (a YOLO reading with fewer anchors than values per
 * anchor is not a real export); still more than one is an error asking for `layout`.
 */
export function selectDecoder(outputs: readonly TensorSpec[], c: DecoderChoice): Selection {
  const layout = c.layout ?? 'auto';
  if (outputs.some((o) => o.shape.length === 0)) return { ok: 'undetermined' };
  const pool = DECODERS.filter((d) => (layout === 'auto' || d.layout === layout) && (c.task === undefined || d.task === c.task));
  if (pool.length === 0) return { ok: false, key: 'task', reason: `layout ${layout} is not a layout of task ${String(c.task)}` };
  const fits = pool.map((d) => d.fit(outputs));
  let ok = fits.flatMap((f) => (f.ok ? [f.decoder] : []));
  const shapes = outputs.map(describeOutput).join(', ');
  if (ok.length === 0) {
    const why = fits.map((f) => (f.ok ? '' : f.reason)).join('; ');
    const other = layout === 'auto' && c.task !== undefined ? DECODERS.filter((d) => d.task !== c.task && d.fit(outputs).ok) : [];
    const hint = other.length === 0 ? '' : `; they fit ${other.map((d) => d.layout).join(', ')}: is it task ${(other[0] as LayoutDecoder).task}?`;
    return { ok: false, key: 'model', reason: `outputs ${shapes} fit ${layout === 'auto' ? `no ${c.task ?? 'vision'} layout` : `not ${layout}`} (${why})${hint}` };
  }
  const named = c.classNames;
  if (named !== undefined) {
    const byCount = ok.filter((d) => d.classes === undefined || d.classes === named.length);
    if (byCount.length === 0) return { ok: false, key: 'classNames', reason: `classNames has ${named.length} name${named.length === 1 ? '' : 's'}, the model (${shapes}) has ${readings(ok)}` };
    ok = byCount;
  }
  let metadataNames = named === undefined ? c.metadataNames : undefined;
  const notes: string[] = [];
  if (metadataNames !== undefined) {
    const count = metadataNames.length;
    const byCount = ok.filter((d) => d.classes === undefined || d.classes === count);
    if (byCount.length === 0) {
      notes.push(`the model's metadata names ${plural(count, 'class')}, its outputs (${shapes}) have ${readings(ok)}: names not used (class<N>)`);
      metadataNames = undefined;
    } else ok = byCount;
  }
  if (ok.length > 1) {
    const plausible = ok.filter((d) => d.plausible);
    if (plausible.length > 0) ok = plausible;
  }
  if (ok.length > 1) {
    if (ok.some((d) => d.classes === undefined)) return { ok: 'undetermined' };
    return { ok: false, key: 'layout', reason: `outputs ${shapes} fit ${ok.map(classesOf).join(' and ')} alike: set layout (${ok.map((d) => d.layout).join(' or ')})` };
  }
  const decoder = ok[0] as FittedDecoder;
  const classNames = named ?? metadataNames;
  return { ok: true, decoder, classNames, namesFrom: named !== undefined ? 'config' : metadataNames !== undefined ? 'metadata' : undefined, notes };
}
