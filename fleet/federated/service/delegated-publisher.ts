import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import type { GlobalModelRef } from '../../protocol/federated/announcement.js';
import { seededRandom } from '../../protocol/federated/random-source.js';
import { ensureDelegatedKey, federatedRole, type DelegatedKey } from '../../repo/delegated-key.js';
import { modelPathPattern } from '../../repo/delegation.js';
import { listReleases, type ReleaseInfo } from '../../repo/releases.js';
import { RepoError, type SigningKey } from '../../repo/repo-error.js';
import { Repository } from '../../repo/repository.js';
import { releaseRef, type GlobalModelPublisher } from './global-model.js';
import { serviceError } from './service-error.js';

export interface DelegatedPublisherOptions {
  readonly repoDir: string;
  /** Where the fleet keeps each task's online key: `<keysDir>/<task>/federated-<task>.key` (0600). */
  readonly keysDir: string;
  /** The repository's online snapshot and timestamp keys: publishing a release needs both. */
  readonly online: { readonly snapshot: readonly SigningKey[]; readonly timestamp: readonly SigningKey[] };
}

/** A deterministic golden input: values in [-2, 2] (the range of standardised data), from the task and round. */
function goldenInput(count: number, seed: number): Float32Array {
  const random = seededRandom(seed);
  return Float32Array.from({ length: count }, () => random() * 4 - 2);
}

function seedOf(task: string, round: number): number {
  let h = 2166136261;
  for (const c of `${task}#${round}`) h = Math.imul(h ^ c.charCodeAt(0), 16777619);
  return h >>> 0;
}

/**
 * Releases a round's global model as the task's delegated TUF role, `federated-<task>`, whose
 * online key the fleet keeps and which the repository's targets role has delegated exactly the
 * task model's paths (`models/<model>/*\/*`): a leaked key can sign releases of that one model
 * and nothing else; gateways refuse anything else it signs. The release copies the hardware,
 * runtime, budgets and golden-run shape of the model's newest release; its golden output is
 * computed here with ONNX Runtime on a deterministic input, so every gateway repeats the same
 * run before installing it. It has no evaluation set (a rollout's quality gate then judges
 * agreement with the model it replaces). Publishes one release at a time: two concurrent
 * versions of a role's metadata would both be version N+1.
 */
export class DelegatedModelPublisher implements GlobalModelPublisher {
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly o: DelegatedPublisherOptions) {}

  private key(task: string): Promise<DelegatedKey> {
    return ensureDelegatedKey(join(this.o.keysDir, task), federatedRole(task));
  }

  /**
   * At a task's creation: makes its online key, and says what the operator must still do when
   * the published targets do not yet delegate the model's paths to the task's role (null: nothing).
   */
  async prepare(task: string, model: string): Promise<string | null> {
    const key = await this.key(task);
    const repo = new Repository(this.o.repoDir);
    const version = await repo.publishedVersion('targets');
    if (version > 0) {
      const targets = JSON.parse(await readFile(join(this.o.repoDir, 'metadata', `${version}.targets.json`), 'utf8')) as { signed?: { delegations?: { roles?: { name?: string; keyids?: string[]; paths?: string[] }[] } } };
      const role = targets.signed?.delegations?.roles?.find((x) => x.name === key.role);
      if (role?.keyids?.includes(key.keyid) === true && role.paths?.includes(modelPathPattern(model)) === true) return null;
    }
    return `the repository does not delegate ${modelPathPattern(model)} to ${key.role} with the fleet's key yet, so rounds' models cannot be released: ${this.delegateCommand(key, model)}`;
  }

  /** The command that delegates the task's model to its role, for the operator (with the offline targets key). */
  delegateCommand(key: DelegatedKey, model: string): string {
    return `edgewise repo delegate --repo ${this.o.repoDir} --role ${key.role} --key ${key.publicPath} --paths '${modelPathPattern(model)}', then sign targets with the targets key and publish`;
  }

  publish(r: { readonly task: string; readonly round: number; readonly model: string; readonly bytes: Uint8Array }): Promise<GlobalModelRef> {
    const next = this.queue.then(() => this.publishNow(r));
    this.queue = next.catch(() => undefined);
    return next;
  }

  private async publishNow(r: { readonly task: string; readonly round: number; readonly model: string; readonly bytes: Uint8Array }): Promise<GlobalModelRef> {
    const key = await this.key(r.task);
    const previous: ReleaseInfo | undefined = (await listReleases(this.o.repoDir)).find((x) => x.model === r.model);
    if (previous === undefined) throw serviceError('E_RELEASE_UNKNOWN', `model ${r.model} has no release in ${this.o.repoDir} to take the release fields from`);
    const release = previous.release + 1;
    const g = previous.golden;
    const input = goldenInput(g.dims.reduce((a, b) => a * b, 1), seedOf(r.task, r.round));
    const output = await runOnce(r.bytes, g.inputName, g.dims, g.outputName, input);
    const dir = await mkdtemp(join(tmpdir(), 'edgewise-federated-release-'));
    try {
      const files = { model: join(dir, 'model.onnx'), goldenInput: join(dir, 'golden-input.bin'), goldenOutput: join(dir, 'golden-output.bin') };
      await writeFile(files.model, r.bytes);
      await writeFile(files.goldenInput, new Uint8Array(input.buffer));
      await writeFile(files.goldenOutput, new Uint8Array(output.buffer, output.byteOffset, output.byteLength));
      const repo = new Repository(this.o.repoDir);
      try {
        await repo.addDelegatedModel(
          key.role,
          {
            ...files,
            release: {
              model: r.model,
              release,
              version: `${r.task.slice(0, 20)} r${r.round}`,
              hardware: { arch: [...previous.hardware.arch] as ('x64' | 'arm64' | 'arm')[], accelerators: [...previous.hardware.accelerators] },
              minRuntimeVersion: previous.minRuntimeVersion,
              golden: { inputName: g.inputName, dims: [...g.dims], outputName: g.outputName, tolerance: g.tolerance },
              budgets: previous.budgets,
            },
          },
          [{ keyid: key.keyid, key: key.key }],
        );
      } catch (err) {
        if (err instanceof RepoError && err.code === 'E_REPO_NOT_DELEGATED') {
          throw serviceError('E_RELEASE_UNSIGNED', `${err.message}. Delegate the model to the task's role once: ${this.delegateCommand(key, r.model)}`);
        }
        throw err;
      }
      await repo.publish(this.o.online);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    const info = (await listReleases(this.o.repoDir)).find((x) => x.model === r.model && x.release === release);
    if (info === undefined) throw serviceError('E_RELEASE_UNKNOWN', `${r.model} release ${release} is not listed after publishing`);
    return releaseRef(info);
  }
}

async function runOnce(model: Uint8Array, inputName: string, dims: readonly number[], outputName: string, input: Float32Array): Promise<Float32Array> {
  const session = await ort.InferenceSession.create(model, { intraOpNumThreads: 1, interOpNumThreads: 1 });
  try {
    const out = await session.run({ [inputName]: new ort.Tensor('float32', input, [...dims]) });
    const t = out[outputName];
    if (t === undefined || t.type !== 'float32') throw serviceError('E_RELEASE_UNKNOWN', `the new model gives no float32 output ${outputName} for its golden run`);
    return Float32Array.from(t.data as Float32Array);
  } finally {
    await session.release();
  }
}
