import { createHash } from 'node:crypto';
import { mkdir, readFile, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { ModelReleases, ReleaseRef } from '../../fleet/protocol/index.js';
import { modelReleaseSchema } from '../../fleet/protocol/model-release.js';
import { writeFileDurable } from './durable-file.js';

/**
 * Two slots per model in the gateway's data dir and a pointer to the active one:
 *
 *   models/<model>/a/model.onnx, a/release.json
 *   models/<model>/b/...
 *   models/<model>/active.json   {"slot":"a","release":7,"sha256":"..."}
 *
 * A release is written to the inactive slot (fsynced), checked, and activated by replacing
 * active.json with a rename: a crash at any moment leaves the old pointer or the new one,
 * each naming a complete slot. The previous slot is kept for an instant switch back.
 */
export type Slot = 'a' | 'b';

export interface ActiveModel {
  readonly slot: Slot;
  readonly release: number;
  readonly version: string;
  readonly sha256: string;
  /** The slot that was active before (rollback target), if it holds a model. */
  readonly previous: { readonly slot: Slot; readonly release: number; readonly version: string; readonly sha256: string } | null;
  readonly activatedAt: number;
}

export class ModelSlots {
  constructor(
    readonly root: string,
    readonly model: string,
  ) {}

  private dir(slot?: Slot): string {
    return slot === undefined ? join(this.root, 'models', this.model) : join(this.root, 'models', this.model, slot);
  }

  async active(): Promise<ActiveModel | undefined> {
    try {
      return JSON.parse(await readFile(join(this.dir(), 'active.json'), 'utf8')) as ActiveModel;
    } catch {
      return undefined;
    }
  }

  async inactive(): Promise<Slot> {
    return (await this.active())?.slot === 'a' ? 'b' : 'a';
  }

  /** Writes verified bytes to the inactive slot (durably); returns the slot. */
  async install(bytes: Uint8Array, release: { readonly release: number; readonly version: string }): Promise<Slot> {
    const slot = await this.inactive();
    const current = await this.active();
    if (current?.previous?.slot === slot) {
      // The slot about to be overwritten is the rollback target: say so first, durably, so a
      // rollback never switches to a slot that holds other bytes.
      await writeFileDurable(join(this.dir(), 'active.json'), `${JSON.stringify({ ...current, previous: null })}\n`);
    }
    await rm(this.dir(slot), { recursive: true, force: true });
    await mkdir(this.dir(slot), { recursive: true });
    await writeFileDurable(join(this.dir(slot), 'model.onnx'), bytes);
    await writeFileDurable(join(this.dir(slot), 'release.json'), JSON.stringify({ ...release, sha256: createHash('sha256').update(bytes).digest('hex') }));
    return slot;
  }

  /** The bytes of a slot, checked against the hash its pointer names (a damaged file is never loaded). */
  async bytes(slot: Slot, sha256: string): Promise<Uint8Array> {
    const bytes = await readFile(join(this.dir(slot), 'model.onnx'));
    const got = createHash('sha256').update(bytes).digest('hex');
    if (got !== sha256) throw new Error(`models/${this.model}/${slot}/model.onnx: sha256 ${got.slice(0, 12)}... is not the ${sha256.slice(0, 12)}... that was installed`);
    return bytes;
  }

  /** Makes `slot` active (atomic); the slot active before becomes the rollback target. */
  async activate(slot: Slot, release: { readonly release: number; readonly version: string; readonly sha256: string }, now = Date.now()): Promise<ActiveModel> {
    const current = await this.active();
    const next: ActiveModel = { slot, ...release, previous: current === undefined || current.slot === slot ? null : { slot: current.slot, release: current.release, version: current.version, sha256: current.sha256 }, activatedAt: now };
    await writeFileDurable(join(this.dir(), 'active.json'), `${JSON.stringify(next)}\n`);
    return next;
  }

  /** Switches back to the previous slot (probation failed); its model is still there. */
  async rollback(now = Date.now()): Promise<ActiveModel> {
    const current = await this.active();
    if (current?.previous === null || current?.previous === undefined) throw new Error(`${this.model}: no previous model to switch back to`);
    const p = current.previous;
    await this.bytes(p.slot, p.sha256); // the previous slot must still hold what it held
    const next: ActiveModel = { slot: p.slot, release: p.release, version: p.version, sha256: p.sha256, previous: null, activatedAt: now };
    await writeFileDurable(join(this.dir(), 'active.json'), `${JSON.stringify(next)}\n`);
    return next;
  }
}

export async function writeJsonDurable(path: string, value: unknown): Promise<void> {
  await mkdir(join(path, '..'), { recursive: true });
  await writeFileDurable(path, `${JSON.stringify(value)}\n`);
}


/** Bytes of every model file in every slot under the data dir (they share the storage budget with the records). */
export async function slotsBytes(dataDir: string): Promise<number> {
  const { readdir, stat } = await import('node:fs/promises');
  let total = 0;
  const models = await readdir(join(dataDir, 'models')).catch(() => [] as string[]);
  for (const m of models) {
    for (const slot of ['a', 'b']) total += (await stat(join(dataDir, 'models', m, slot, 'model.onnx')).catch(() => undefined))?.size ?? 0;
  }
  return total;
}

/** A model's folder name is a model name only if a signed release could carry it (anything else there is not ours). */
const MODEL_NAME = new RegExp(modelReleaseSchema.properties.model.pattern);
/** A health report with more models is refused by its receivers (fleet/protocol/health-message.ts). */
const MAX_REPORTED_MODELS = 256;

/**
 * The active and the standby (rollback) release of each model in `models` and of each model
 * with slots under the data dir, read from the `active.json` pointers: what the health report
 * tells the fleet. A model without a pointer (none installed, or installed and never
 * activated) has neither.
 */
export async function installedReleases(dataDir: string, models: readonly string[]): Promise<Record<string, ModelReleases>> {
  const onDisk = (await readdir(join(dataDir, 'models'), { withFileTypes: true }).catch(() => [])).filter((e) => e.isDirectory() && MODEL_NAME.test(e.name)).map((e) => e.name);
  const out: Record<string, ModelReleases> = {};
  for (const model of [...new Set([...models, ...onDisk.sort()])].slice(0, MAX_REPORTED_MODELS)) {
    const a = await new ModelSlots(dataDir, model).active();
    out[model] = { active: releaseRef(a), standby: releaseRef(a?.previous) };
  }
  return out;
}

/** A pointer's release as reported; a pointer that is not what we write (edited by hand?) reports nothing rather than a report the fleet refuses. */
function releaseRef(r: { readonly release: unknown; readonly version: unknown; readonly sha256: unknown } | null | undefined): ReleaseRef | null {
  if (r === null || r === undefined) return null;
  if (!Number.isSafeInteger(r.release) || typeof r.version !== 'string' || typeof r.sha256 !== 'string') return null;
  return { release: r.release as number, version: r.version, sha256: r.sha256 };
}
