import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { CARD_FILE, CHECKPOINT_DIR, MODEL_FILE, type ModelCard } from './model-card.js';

/** A MODEL_DIR that cannot be read: `code` is stable, the message names the file and what is wrong. */
export class ModelDirError extends Error {
  override readonly name = 'ModelDirError';
  readonly code = 'E_MODEL_DIR';
}

/** Writes `path` whole or not at all (temp file, fsync, rename): a kill -9 mid-write leaves the old file. */
export async function writeFileAtomic(path: string, data: string | Uint8Array): Promise<void> {
  const tmp = `${path}.tmp`;
  try {
    const file = await open(tmp, 'w');
    try {
      await file.writeFile(data);
      await file.sync();
    } finally {
      await file.close();
    }
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

/** Writes the model and its card (the model first: a card always names a complete model). */
export async function writeModelDir(dir: string, card: ModelCard, model: Uint8Array): Promise<void> {
  await mkdir(dir, { recursive: true });
  await writeFileAtomic(join(dir, MODEL_FILE), model);
  await writeFileAtomic(join(dir, CARD_FILE), `${JSON.stringify(card, null, 2)}\n`);
}

const TASKS = new Set(['detect', 'classify', 'anomaly']);

/** Reads a MODEL_DIR written by `edgewise model train`, checking the card's fields it relies on. */
export async function readModelDir(dir: string): Promise<{ card: ModelCard; model: Uint8Array }> {
  const cardPath = join(dir, CARD_FILE);
  let text: string;
  try {
    text = await readFile(cardPath, 'utf8');
  } catch {
    throw new ModelDirError(`${cardPath}: no model card; expected a folder written by \`edgewise model train\``);
  }
  let card: unknown;
  try {
    card = JSON.parse(text);
  } catch (err) {
    throw new ModelDirError(`${cardPath}: not JSON (${(err as Error).message})`);
  }
  const c = card as Partial<ModelCard>;
  if (c.format !== 'edgewise-model' || c.version !== 1) throw new ModelDirError(`${cardPath}: expected format "edgewise-model" version 1, got ${JSON.stringify(c.format)} version ${JSON.stringify(c.version)}`);
  if (typeof c.task !== 'string' || !TASKS.has(c.task)) throw new ModelDirError(`${cardPath}: task: expected detect, classify or anomaly, got ${JSON.stringify(c.task)}`);
  if (!Array.isArray(c.classNames) || c.classNames.some((n) => typeof n !== 'string')) throw new ModelDirError(`${cardPath}: classNames: expected a list of names`);
  if (c.task !== 'anomaly' && c.input === undefined) throw new ModelDirError(`${cardPath}: input: a ${c.task} model needs its input size`);
  const modelPath = join(dir, MODEL_FILE);
  let model: Uint8Array;
  try {
    model = new Uint8Array(await readFile(modelPath));
  } catch {
    throw new ModelDirError(`${modelPath}: missing (the card names a model that is not there)`);
  }
  return { card: card as ModelCard, model };
}

/**
 * A trainer's state after a finished epoch: JSON for small things (epoch, RNG state, losses)
 * and named float arrays (weights, optimizer moments) stored as one binary file. Written
 * atomically, so a training stopped at any moment resumes from its last finished epoch.
 */
export interface Checkpoint {
  readonly epoch: number;
  readonly state: Readonly<Record<string, unknown>>;
  readonly tensors: Readonly<Record<string, Float32Array | Float64Array>>;
}

export async function saveCheckpoint(dir: string, c: Checkpoint): Promise<void> {
  const at = join(dir, CHECKPOINT_DIR);
  await mkdir(at, { recursive: true });
  const index: { name: string; type: 'f32' | 'f64'; offset: number; length: number }[] = [];
  let bytes = 0;
  for (const [name, t] of Object.entries(c.tensors)) {
    bytes = Math.ceil(bytes / 8) * 8;
    index.push({ name, type: t instanceof Float32Array ? 'f32' : 'f64', offset: bytes, length: t.length });
    bytes += t.byteLength;
  }
  const blob = new Uint8Array(bytes);
  for (const e of index) {
    const t = c.tensors[e.name] as Float32Array | Float64Array;
    blob.set(new Uint8Array(t.buffer, t.byteOffset, t.byteLength), e.offset);
  }
  // The tensors first: a state file always describes tensors that are complete.
  await writeFileAtomic(join(at, 'tensors.bin'), blob);
  await writeFileAtomic(join(at, 'state.json'), `${JSON.stringify({ epoch: c.epoch, state: c.state, index })}\n`);
}

/** The last checkpoint, or null when there is none (or it is unreadable: training starts over, said by the caller). */
export async function loadCheckpoint(dir: string): Promise<Checkpoint | null> {
  const at = join(dir, CHECKPOINT_DIR);
  try {
    const head = JSON.parse(await readFile(join(at, 'state.json'), 'utf8')) as { epoch: number; state: Record<string, unknown>; index: { name: string; type: 'f32' | 'f64'; offset: number; length: number }[] };
    const blob = await readFile(join(at, 'tensors.bin'));
    const tensors: Record<string, Float32Array | Float64Array> = {};
    for (const e of head.index) {
      const size = e.type === 'f32' ? 4 : 8;
      const copy = new Uint8Array(blob.subarray(e.offset, e.offset + e.length * size));
      if (copy.length !== e.length * size) return null;
      tensors[e.name] = e.type === 'f32' ? new Float32Array(copy.buffer) : new Float64Array(copy.buffer);
    }
    return { epoch: head.epoch, state: head.state, tensors };
  } catch {
    return null;
  }
}

export async function removeCheckpoint(dir: string): Promise<void> {
  await rm(join(dir, CHECKPOINT_DIR), { recursive: true, force: true });
}
