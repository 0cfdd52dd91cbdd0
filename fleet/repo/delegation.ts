import { Targets } from '@tufjs/models';
import { DELEGATED_ROLE_PATTERN, isDelegatedRoleName, type TufPublicKey } from './keys.js';
import { tufKey, type Json } from './metadata-files.js';
import { RepoError } from './repo-error.js';

/** A model name, as model releases allow it (fleet/protocol/model-release.ts). */
const MODEL_NAME = '[a-z0-9][a-z0-9._-]{0,63}';

/**
 * The delegation pattern of one model's releases. TUF matches a pattern segment by segment
 * (the same number of "/"-separated parts, each a glob: @tufjs/models' isTargetInPathPattern,
 * python-tuf's the same), so `models/press/*` would cover `models/press/x` but not a release
 * file, `models/press/7/model.onnx`: the pattern needs one `*` for the release and one for
 * the file. It covers no other model (`press-2` is another segment, not a prefix).
 */
export function modelPathPattern(model: string): string {
  if (!new RegExp(`^${MODEL_NAME}$`).test(model)) throw new RepoError('E_REPO_INPUT', `model ${JSON.stringify(model)}: not a model name (${MODEL_NAME})`);
  return `models/${model}/*/*`;
}

/** Only whole-model patterns are delegated: a delegated key signs one model's releases and nothing else. */
export function checkDelegationPaths(paths: readonly string[]): void {
  if (paths.length === 0) throw new RepoError('E_REPO_INPUT', 'delegate: no path pattern given (one per model: models/<model>/*/*)');
  for (const p of paths) {
    if (new RegExp(`^models/${MODEL_NAME}/\\*/\\*$`).test(p)) continue;
    const oneLevel = new RegExp(`^models/(${MODEL_NAME})/\\*$`).exec(p);
    if (oneLevel !== null) throw new RepoError('E_REPO_INPUT', `delegate: path pattern ${JSON.stringify(p)} covers no release file (TUF matches each "/"-separated part on its own, and a release is models/<model>/<release>/<file>): use ${JSON.stringify(`models/${oneLevel[1] as string}/*/*`)}`);
    throw new RepoError('E_REPO_INPUT', `delegate: path pattern ${JSON.stringify(p)}: expected models/<model>/*/* (one model's releases; a model name is ${MODEL_NAME})`);
  }
}

export interface Delegation {
  readonly role: string;
  readonly keys: readonly TufPublicKey[];
  /** How many of `keys` must sign the role's metadata; default 1. */
  readonly threshold?: number;
  readonly paths: readonly string[];
}

interface RoleJson {
  name: string;
  keyids: string[];
  threshold: number;
  terminating: boolean;
  paths?: string[];
}

/**
 * `signed` (a targets role's signed part) with the delegation to `d.role` added, or replaced
 * where it was (the order of delegations is the order gateways search them). Terminating: a
 * gateway looking for a path the role covers stops at this role, so no later delegation can
 * answer for that model. Keys no role uses any more are dropped.
 */
export function withDelegation(signed: Json, d: Delegation): Json {
  if (!isDelegatedRoleName(d.role)) throw new RepoError('E_REPO_INPUT', `delegate: role ${JSON.stringify(d.role)}: expected a name matching ${DELEGATED_ROLE_PATTERN}, not a top-level role's`);
  checkDelegationPaths(d.paths);
  const keys = d.keys.map(tufKey);
  const keyids = [...new Set(keys.map((k) => k.keyID))];
  const threshold = d.threshold ?? 1;
  if (keyids.length === 0 || !Number.isInteger(threshold) || threshold < 1 || threshold > keyids.length) throw new RepoError('E_REPO_INPUT', `delegate ${d.role}: ${keyids.length} distinct keys with threshold ${threshold} is not a valid role`);
  const old = (signed['delegations'] as { keys?: Json; roles?: RoleJson[]; succinct_roles?: unknown } | undefined) ?? {};
  if (old.succinct_roles !== undefined) throw new RepoError('E_REPO_STATE', 'delegate: the targets metadata uses succinct (hash-bin) delegations, which this repository does not manage');
  const role: RoleJson = { name: d.role, keyids, threshold, terminating: true, paths: [...d.paths] };
  const roles = [...(old.roles ?? [])];
  const at = roles.findIndex((r) => r.name === d.role);
  if (at >= 0) roles[at] = role;
  else roles.push(role);
  const allKeys: Json = { ...(old.keys ?? {}) };
  for (const k of keys) allKeys[k.keyID] = k.toJSON();
  const used = new Set(roles.flatMap((r) => r.keyids));
  return { ...signed, delegations: { keys: Object.fromEntries(Object.entries(allKeys).filter(([id]) => used.has(id))), roles } };
}

/**
 * The delegated roles a gateway's target search (TUF client workflow 5.6.7) visits for `path`
 * after the top-level targets role, in order: the roles whose patterns cover it, up to and
 * including the first terminating one. Decided by @tufjs/models' own matcher, which the gateway
 * runs too. One level: this repository's delegated roles delegate no further.
 */
export function rolesSearched(delegator: Targets, path: string): string[] {
  const out: string[] = [];
  for (const { role, terminating } of delegator.delegations?.rolesForTarget(path) ?? []) {
    out.push(role);
    if (terminating) break;
  }
  return out;
}

/** The delegation to `role` in `delegator`; E_REPO_NOT_DELEGATED if there is none. */
export function delegationTo(delegator: Targets, delegatorVersion: number, role: string): NonNullable<NonNullable<Targets['delegations']>['roles']>[string] {
  const delegation = delegator.delegations?.roles?.[role];
  if (delegation === undefined) throw new RepoError('E_REPO_NOT_DELEGATED', `${role} is not a delegated role in targets v${delegatorVersion} (edgewise repo delegate, sign targets, publish)`);
  return delegation;
}

/**
 * Refuses (E_REPO_NOT_DELEGATED) a path a gateway would not take from `role`: one its delegation
 * does not cover, one an earlier terminating delegation answers for, or one the top-level
 * targets role lists itself (the gateway takes that one and never asks the role).
 */
export function checkCovered(delegator: Targets, delegatorVersion: number, role: string, path: string): void {
  const delegation = delegationTo(delegator, delegatorVersion, role);
  const allowed = (delegation.paths ?? []).join(', ');
  if (delegator.targets[path] !== undefined) throw new RepoError('E_REPO_NOT_DELEGATED', `${role} may not sign ${path}: the top-level targets role (v${delegatorVersion}) lists that path itself, and gateways take its entry`);
  if (!delegation.isDelegatedPath(path)) throw new RepoError('E_REPO_NOT_DELEGATED', `${role} may not sign ${path}: its delegation in targets v${delegatorVersion} allows only ${allowed}`);
  const searched = rolesSearched(delegator, path);
  if (!searched.includes(role)) throw new RepoError('E_REPO_NOT_DELEGATED', `${role} may not sign ${path}: the terminating delegation to ${searched[searched.length - 1] ?? '?'} answers for that path before ${role} (allowed: ${allowed})`);
}

/** Releases a delegated role's metadata keeps (about 4 targets each): ~50 KB of metadata per gateway refresh at most. */
export const DEFAULT_KEEP_RELEASES = 50;

/**
 * The targets of the newest `keep` releases of each model: a delegated role signs only
 * `models/<model>/<release>/<file>`, and a release is its `<model>/<release>` directory, newest
 * by release number. Older releases leave the role's metadata (gateways roll back from their
 * own standby slot, not by fetching an old release); their files stay in `targets/`.
 */
export function keepNewestReleases(targets: Json, keep: number): Json {
  if (!Number.isInteger(keep) || keep < 1) throw new RepoError('E_REPO_INPUT', `keepReleases ${keep}: expected a whole number >= 1`);
  const releases = new Map<string, Set<number>>();
  const releaseOf = (path: string): { model: string; n: number } | undefined => {
    const m = /^models\/([^/]+)\/(\d{1,15})\/[^/]+$/.exec(path);
    return m === null ? undefined : { model: m[1] as string, n: Number.parseInt(m[2] as string, 10) };
  };
  for (const path of Object.keys(targets)) {
    const r = releaseOf(path);
    if (r !== undefined) releases.set(r.model, (releases.get(r.model) ?? new Set()).add(r.n));
  }
  const kept = new Map([...releases].map(([model, ns]) => [model, new Set([...ns].sort((a, b) => b - a).slice(0, keep))]));
  return Object.fromEntries(
    Object.entries(targets).filter(([path]) => {
      const r = releaseOf(path);
      return r === undefined || kept.get(r.model)?.has(r.n) === true;
    }),
  );
}

/** A targets role's signed part as @tufjs/models reads it (E_REPO_STATE if it does not read). */
export function targetsOf(signed: Json, what: string): Targets {
  try {
    return Targets.fromJSON(signed as never);
  } catch (err) {
    throw new RepoError('E_REPO_STATE', `${what}: not valid targets metadata (${(err as Error).message})`);
  }
}
