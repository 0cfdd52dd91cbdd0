import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { decodeEvaluationSet } from '../protocol/evaluation-set.js';
import { KeyError, ROLES, isDelegatedRoleName, loadPrivateKey, loadPublicKey, type Role, type TufPublicKey } from './keys.js';
import type { ModelReleaseInput } from './model-release-targets.js';
import { RepoError, Repository, type SigningKey } from './repository.js';
import { serveRepository } from './serve.js';

/** `edgewise repo ...`: each returns an exit code; a refusal is one line on stderr and 2. */
async function guarded(what: string, f: () => Promise<void>): Promise<number> {
  try {
    await f();
    return 0;
  } catch (err) {
    if (err instanceof RepoError || err instanceof KeyError || (err as { code?: string }).code === 'E_PAYLOAD_INVALID' || (err as NodeJS.ErrnoException).code === 'ENOENT') {
      process.stderr.write(`edgewise repo ${what}: ${(err as Error).message}\n`);
      return 2;
    }
    throw err;
  }
}

async function signingKeys(files: readonly string[]): Promise<SigningKey[]> {
  return Promise.all(files.map(async (f) => loadPrivateKey(f)));
}

export async function repoInit(o: { repo: string; keys: string; threshold: readonly string[] }): Promise<number> {
  return guarded('init', async () => {
    const byRole = { root: [], targets: [], snapshot: [], timestamp: [] } as Record<Role, TufPublicKey[]>;
    for (const f of (await readdir(o.keys)).filter((n) => n.endsWith('.pub.json')).sort()) {
      const role = (JSON.parse(await readFile(join(o.keys, f), 'utf8')) as { role?: string }).role;
      // A delegated role's key is not in root; `repo delegate` names it.
      if (role !== undefined && isDelegatedRoleName(role)) continue;
      if (!(ROLES as readonly (string | undefined)[]).includes(role)) throw new KeyError('E_KEY_INVALID', `${f}: no role`);
      byRole[role as Role].push((await loadPublicKey(join(o.keys, f))).publicKey);
    }
    const thresholds: Partial<Record<Role, number>> = {};
    for (const t of o.threshold) {
      const m = /^(root|targets|snapshot|timestamp)=(\d+)$/.exec(t);
      if (m === null) throw new RepoError('E_REPO_INPUT', `--threshold ${t}: expected ROLE=N`);
      thresholds[m[1] as Role] = Number.parseInt(m[2] as string, 10);
    }
    await new Repository(o.repo).init(byRole, thresholds);
    process.stdout.write(`staged root v1 and targets v1 in ${o.repo}: sign root and targets, then publish\n`);
  });
}

export interface AddModelOptions {
  repo: string;
  model: string;
  goldenInput: string;
  goldenOutput: string;
  name: string;
  release: string;
  modelVersion: string;
  arch: string;
  accelerators: string;
  minRuntime: string;
  inputName: string;
  dims: string;
  outputName: string;
  tolerance: string;
  latencyMs: string;
  errorRatePpm: string;
  probationS: string;
  evaluationSet?: string;
  /** A delegated role to sign the release with, and its private key files. */
  signedBy?: string;
  roleKey?: readonly string[];
}

export async function repoAddModel(o: AddModelOptions): Promise<number> {
  return guarded('add-model', async () => {
    const int = (v: string, what: string): number => {
      if (!/^\d+$/.test(v)) throw new RepoError('E_REPO_INPUT', `--${what}: expected a whole number, got ${JSON.stringify(v)}`);
      return Number.parseInt(v, 10);
    };
    let evaluation = '';
    if (o.evaluationSet !== undefined) {
      // Refused here, with the field named, rather than by every gateway of a rollout.
      try {
        const e = decodeEvaluationSet(await readFile(o.evaluationSet));
        evaluation = e.kind === 'anomaly-windows' ? ` (evaluation set: ${e.set.count} labelled windows)` : ` (evaluation set: ${e.set.frames.length} frames, ${e.set.frames.reduce((n, f) => n + f.boxes.length, 0)} labelled boxes)`;
      } catch (err) {
        throw new RepoError('E_REPO_INPUT', `--evaluation-set ${o.evaluationSet}: ${(err as Error).message}`);
      }
    }
    const input: ModelReleaseInput = {
      model: o.model,
      goldenInput: o.goldenInput,
      goldenOutput: o.goldenOutput,
      ...(o.evaluationSet === undefined ? {} : { evaluationSet: o.evaluationSet }),
      release: {
        model: o.name,
        release: int(o.release, 'release'),
        version: o.modelVersion,
        hardware: { arch: o.arch.split(',') as ('x64' | 'arm64' | 'arm')[], accelerators: o.accelerators.split(',') },
        minRuntimeVersion: o.minRuntime,
        golden: { inputName: o.inputName, dims: o.dims.split(',').map((d) => int(d, 'dims')), outputName: o.outputName, tolerance: o.tolerance },
        budgets: { latencyMs: int(o.latencyMs, 'latency-ms'), errorRatePpm: int(o.errorRatePpm, 'error-rate-ppm'), probationS: int(o.probationS, 'probation-s') },
      },
    };
    const repo = new Repository(o.repo);
    if (o.signedBy === undefined) {
      if ((o.roleKey ?? []).length > 0) throw new RepoError('E_REPO_INPUT', '--role-key needs --signed-by (the delegated role it signs for)');
      process.stdout.write(`staged ${await repo.addModel(input)}${evaluation}: sign targets, then publish\n`);
      return;
    }
    if ((o.roleKey ?? []).length === 0) throw new RepoError('E_REPO_INPUT', `--signed-by ${o.signedBy}: give the role's private key with --role-key`);
    const path = await repo.addDelegatedModel(o.signedBy, input, await signingKeys(o.roleKey ?? []));
    process.stdout.write(`signed ${path}${evaluation} as ${o.signedBy}: publish\n`);
  });
}

export async function repoDelegate(o: { repo: string; role: string; key: readonly string[]; threshold: string; paths: readonly string[] }): Promise<number> {
  return guarded('delegate', async () => {
    if (!/^\d+$/.test(o.threshold)) throw new RepoError('E_REPO_INPUT', `--threshold: expected a whole number, got ${JSON.stringify(o.threshold)}`);
    const keys = await Promise.all(o.key.map(async (f) => (await loadPublicKey(f)).publicKey));
    await new Repository(o.repo).delegate({ role: o.role, keys, threshold: Number.parseInt(o.threshold, 10), paths: o.paths });
    process.stdout.write(`staged the delegation to ${o.role} (${o.paths.join(', ')}): sign targets, then publish\n`);
  });
}

export async function repoSign(o: { repo: string; role: string; key: readonly string[] }): Promise<number> {
  return guarded('sign', async () => {
    if (o.role !== 'root' && o.role !== 'targets') throw new RepoError('E_REPO_INPUT', `--role: root or targets (snapshot and timestamp are signed at publish), got ${JSON.stringify(o.role)}`);
    await new Repository(o.repo).sign(o.role, await signingKeys(o.key));
  });
}

export async function repoRotate(o: { repo: string; role: string; add: readonly string[]; remove: readonly string[]; threshold?: string }): Promise<number> {
  return guarded('rotate', async () => {
    if (!(ROLES as readonly string[]).includes(o.role)) throw new RepoError('E_REPO_INPUT', `--role must be one of ${ROLES.join(', ')}`);
    const add = await Promise.all(o.add.map(async (f) => (await loadPublicKey(f)).publicKey));
    await new Repository(o.repo).rotate(o.role as Role, { add, remove: o.remove, ...(o.threshold === undefined ? {} : { threshold: Number.parseInt(o.threshold, 10) }) });
    process.stdout.write(`staged a new root: sign it with the current root keys and the new ones, then publish\n`);
  });
}

export async function repoPublish(o: { repo: string; snapshotKey: readonly string[]; timestampKey: readonly string[] }): Promise<number> {
  return guarded('publish', async () => {
    const v = await new Repository(o.repo).publish({ snapshot: await signingKeys(o.snapshotKey), timestamp: await signingKeys(o.timestampKey) });
    process.stdout.write(`${JSON.stringify(v)}\n`);
  });
}

export async function repoServe(o: { repo: string; http: string }): Promise<number> {
  const m = /^([^:\s]+):(\d{1,5})$/.exec(o.http);
  if (m === null) {
    process.stderr.write(`edgewise repo serve: --http HOST:PORT, got ${JSON.stringify(o.http)}\n`);
    return 2;
  }
  const server = serveRepository(o.repo);
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(Number.parseInt(m[2] as string, 10), m[1], resolve));
  const a = server.address();
  process.stdout.write(`serving ${o.repo} on http://${typeof a === 'object' && a !== null ? `${a.address}:${a.port}` : o.http} (/metadata/, /targets/); Ctrl-C stops\n`);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return 0;
}
