import { access, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseModelRelease } from '../protocol/model-release.js';
import { newestVersion, readJson, type Json } from './metadata-files.js';
import { listReleases } from './releases.js';

/** Where the highest release counter of a model was found. */
export interface HighestRelease {
  readonly release: number;
  /** `published`: in the newest snapshot; `staged`: in the staged top-level targets, or signed by a delegated role and not yet published. */
  readonly where: 'published' | 'staged';
  readonly target: string;
}

interface TargetsFile {
  readonly signed?: { readonly targets?: Record<string, { readonly custom?: unknown }>; readonly delegations?: { readonly roles?: readonly { readonly name?: unknown }[] } };
}

/** True when `repoDir` holds a TUF repository that a release can be staged in (staged or published targets metadata). */
export async function isRepository(repoDir: string): Promise<boolean> {
  if ((await newestVersion(join(repoDir, 'metadata'), 'targets')) > 0) return true;
  return access(join(repoDir, 'staged', 'targets.json')).then(
    () => true,
    () => false,
  );
}

/** The release counters of `model` that a targets file lists (entries whose `custom.edgewise` does not validate are not releases, as for the gateways). */
function releasesIn(file: TargetsFile, model: string): { release: number; target: string }[] {
  const out: { release: number; target: string }[] = [];
  for (const [target, entry] of Object.entries(file.signed?.targets ?? {})) {
    if ((entry.custom as { edgewise?: { model?: unknown } } | undefined)?.edgewise?.model !== model) continue;
    try {
      out.push({ release: parseModelRelease(entry.custom, target).release, target });
    } catch {
      // Not a valid release: no gateway would take it, and it does not hold a counter.
    }
  }
  return out;
}

/**
 * The highest release counter of `model` in the repository, wherever it is: published
 * (listReleases, what gateways can find), staged in the top-level targets (added, maybe
 * signed, not yet published), or in a delegated role's metadata written by `repo add-model
 * --signed-by` and not yet listed by a snapshot. A new release must be above all of these:
 * gateways keep the highest counter they accepted and refuse anything not above it, and two
 * staged releases with one counter would share one target path. Undefined: none.
 */
export async function highestRelease(repoDir: string, model: string): Promise<HighestRelease | undefined> {
  let best: HighestRelease | undefined;
  const consider = (release: number, target: string, where: HighestRelease['where']): void => {
    if (best === undefined || release > best.release) best = { release, target, where };
  };
  for (const r of await listReleases(repoDir)) if (r.model === model) consider(r.release, r.target, 'published');
  const metadata = join(repoDir, 'metadata');
  const staged = (await readJson(join(repoDir, 'staged', 'targets.json')).catch(() => undefined)) as TargetsFile | undefined;
  const publishedTargets = await newestVersion(metadata, 'targets');
  const top = staged ?? (publishedTargets === 0 ? undefined : ((await readJson(join(metadata, `${publishedTargets}.targets.json`))) as TargetsFile));
  for (const r of staged === undefined ? [] : releasesIn(staged, model)) consider(r.release, r.target, 'staged');
  // Delegated roles: their newest metadata, published or not (a role's version is written at once and listed by the next publish).
  for (const role of top?.signed?.delegations?.roles ?? []) {
    if (typeof role.name !== 'string') continue;
    const v = await newestVersion(metadata, role.name);
    if (v === 0) continue;
    const file = JSON.parse(await readFile(join(metadata, `${v}.${role.name}.json`), 'utf8')) as Json as TargetsFile;
    // One already published is in the list above with the same counter: only a higher one replaces it.
    for (const r of releasesIn(file, model)) consider(r.release, r.target, 'staged');
  }
  return best;
}
