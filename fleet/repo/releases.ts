import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseModelRelease, type ModelRelease } from '../protocol/model-release.js';
import { rolesSearched, targetsOf } from './delegation.js';
import { newestVersion, type Json } from './metadata-files.js';

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
  /** Its golden run: the input and output target paths, the tensor names and dims, the tolerance. */
  readonly golden: ModelRelease['golden'];
  /** The target path of its labelled evaluation set (null: none; a rollout's quality gate then judges agreement). */
  readonly evaluationSet: string | null;
  /** The role whose metadata lists it: `targets` (the offline targets keys) or a delegated role (`federated-<task>`: its online key). */
  readonly signedBy: string;
  /** The version of that role's metadata it was read from. */
  readonly targetsVersion: number;
}

interface TargetFile {
  readonly length?: unknown;
  readonly hashes?: { readonly sha256?: unknown };
  readonly custom?: unknown;
}

interface RoleFile {
  readonly signed: Json & { readonly version: number; readonly targets?: Record<string, TargetFile> };
}

function release(target: string, file: TargetFile, signedBy: string, targetsVersion: number): ReleaseInfo | undefined {
  if ((file.custom as { edgewise?: unknown } | undefined)?.edgewise === undefined) return undefined;
  let r: ModelRelease;
  try {
    r = parseModelRelease(file.custom, target);
  } catch {
    return undefined;
  }
  const sha256 = file.hashes?.sha256;
  if (typeof file.length !== 'number' || typeof sha256 !== 'string') return undefined;
  return { target, model: r.model, release: r.release, version: r.version, length: file.length, sha256, hardware: { arch: r.hardware.arch, accelerators: r.hardware.accelerators }, minRuntimeVersion: r.minRuntimeVersion, budgets: r.budgets, golden: r.golden, evaluationSet: r.evaluation?.set ?? null, signedBy, targetsVersion };
}

/**
 * The model releases a gateway can find in the newest published snapshot, newest release of
 * each model first: those of the top-level targets metadata, and those of each delegated role
 * the snapshot lists, each taken where a gateway's target search takes it (the top-level entry
 * first; a delegated role only for paths its delegation gives it, so a role's entry for another
 * model's path is left out, as gateways refuse it). Golden files and any other target without
 * `custom.edgewise` are not releases and are left out; so is a target whose release fields do
 * not validate, since every gateway refuses it too. No repository, or nothing published: an
 * empty list. A delegated role's version written but not yet published is not read.
 *
 * The files are the fleet's own output, so signatures are not checked here; gateways check
 * them.
 */
export async function listReleases(repoDir: string): Promise<ReleaseInfo[]> {
  const metadata = join(repoDir, 'metadata');
  const snapshotVersion = await newestVersion(metadata, 'snapshot');
  if (snapshotVersion === 0) return [];
  const read = async (file: string): Promise<RoleFile> => JSON.parse(await readFile(join(metadata, file), 'utf8')) as RoleFile;
  const meta = ((await read(`${snapshotVersion}.snapshot.json`)).signed['meta'] ?? {}) as Record<string, { version?: unknown }>;
  const version = (name: string): number | undefined => (typeof meta[`${name}.json`]?.version === 'number' ? (meta[`${name}.json`]?.version as number) : undefined);
  const targetsVersion = version('targets');
  if (targetsVersion === undefined) return [];
  const top = await read(`${targetsVersion}.targets.json`);
  const out: ReleaseInfo[] = [];
  for (const [target, file] of Object.entries(top.signed.targets ?? {})) {
    const r = release(target, file, 'targets', targetsVersion);
    if (r !== undefined) out.push(r);
  }
  const delegator = targetsOf(top.signed, `${targetsVersion}.targets.json`);
  const roles = new Map<string, RoleFile>();
  for (const role of Object.keys(delegator.delegations?.roles ?? {})) {
    const v = version(role);
    if (v !== undefined) roles.set(role, await read(`${v}.${role}.json`));
  }
  const seen = new Set(Object.keys(top.signed.targets ?? {}));
  for (const [, md] of roles) {
    for (const target of Object.keys(md.signed.targets ?? {})) {
      if (seen.has(target)) continue;
      seen.add(target);
      // As the gateway searches: the first role on the path that lists the target answers.
      const signedBy = rolesSearched(delegator, target).find((role) => roles.get(role)?.signed.targets?.[target] !== undefined);
      const from = signedBy === undefined ? undefined : roles.get(signedBy);
      if (signedBy === undefined || from === undefined) continue;
      const r = release(target, from.signed.targets?.[target] as TargetFile, signedBy, from.signed.version);
      if (r !== undefined) out.push(r);
    }
  }
  return out.sort((a, b) => (a.model === b.model ? b.release - a.release : a.model < b.model ? -1 : 1));
}
