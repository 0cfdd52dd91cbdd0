import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseModelRelease, type ModelRelease } from '../protocol/model-release.js';
import { Repository } from './repository.js';

/** A model release as the fleet has published it: the TUF target and its `custom.edgewise` fields. */
export interface ReleaseInfo {
  /** The target path of the model file (`models/<model>/<release>/model.onnx`). */
  readonly target: string;
  readonly model: string;
  readonly release: number;
  readonly version: string;
  /** Size and hash of the model file, as signed. */
  readonly length: number;
  readonly sha256: string;
  readonly hardware: { readonly arch: readonly string[]; readonly accelerators: readonly string[] };
  readonly minRuntimeVersion: string;
  readonly budgets: ModelRelease['budgets'];
  /** The target path of its labelled evaluation set (null: none; a rollout's quality gate then judges agreement). */
  readonly evaluationSet: string | null;
  /** The version of the targets metadata it was read from. */
  readonly targetsVersion: number;
}

interface TargetFile {
  readonly length?: unknown;
  readonly hashes?: { readonly sha256?: unknown };
  readonly custom?: unknown;
}

/**
 * The model releases in the newest published targets metadata (`metadata/N.targets.json`,
 * consistent snapshots), newest release of each model first. Golden files and any other
 * target without `custom.edgewise` are not releases and are left out; so is a target whose
 * release fields do not validate, since every gateway refuses it too. Targets signed by
 * delegated roles are not read yet. No repository, or nothing published: an empty list.
 *
 * The files are the fleet's own output, so signatures are not checked here; gateways check
 * them.
 */
export async function listReleases(repoDir: string): Promise<ReleaseInfo[]> {
  const version = await new Repository(repoDir).publishedVersion('targets');
  if (version === 0) return [];
  const json = JSON.parse(await readFile(join(repoDir, 'metadata', `${version}.targets.json`), 'utf8')) as { signed?: { targets?: Record<string, TargetFile> } };
  const out: ReleaseInfo[] = [];
  for (const [target, file] of Object.entries(json.signed?.targets ?? {})) {
    if ((file.custom as { edgewise?: unknown } | undefined)?.edgewise === undefined) continue;
    let r: ModelRelease;
    try {
      r = parseModelRelease(file.custom, target);
    } catch {
      continue;
    }
    const sha256 = file.hashes?.sha256;
    if (typeof file.length !== 'number' || typeof sha256 !== 'string') continue;
    out.push({ target, model: r.model, release: r.release, version: r.version, length: file.length, sha256, hardware: { arch: r.hardware.arch, accelerators: r.hardware.accelerators }, minRuntimeVersion: r.minRuntimeVersion, budgets: r.budgets, evaluationSet: r.evaluation?.set ?? null, targetsVersion: version });
  }
  return out.sort((a, b) => (a.model === b.model ? b.release - a.release : a.model < b.model ? -1 : 1));
}
