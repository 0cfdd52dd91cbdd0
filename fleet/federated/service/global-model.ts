import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { readFloatInitializers, withInitializers } from '../../../models/onnx/initializers.js';
import type { GlobalModelRef } from '../../protocol/federated/announcement.js';
import type { FloatTensor } from '../../protocol/federated/tensor.js';
import type { ReleaseInfo } from '../../repo/releases.js';
import type { GlobalModel, RoundCalibration } from '../round/record.js';
import { serviceError } from './service-error.js';

/**
 * Releases a round's new global model and says where gateways fetch it. The fleet service
 * wires the task's delegated TUF signer into it (a role that may sign only that task's model
 * path, with an online key); tests use a top-level targets release of a real repository.
 */
export interface GlobalModelPublisher {
  /** `model` is the model's release name; `bytes` the new ONNX file. Returns the release, which the next round starts from. */
  publish(r: { readonly task: string; readonly round: number; readonly model: string; readonly bytes: Uint8Array }): Promise<GlobalModelRef>;
  /** At a task's creation: gets ready to sign its models; returns what the operator must still do before it can (null: nothing). */
  prepare?(task: string, model: string): Promise<string | null>;
}

/** Where the service finds model releases and their files: the fleet's TUF repository. */
export interface ModelReleases {
  list(): Promise<readonly ReleaseInfo[]>;
  /** The model file of a release, checked against its SHA-256. */
  read(ref: GlobalModelRef): Promise<Uint8Array>;
}

/** How an announcement names a release of the repository. */
export function releaseRef(r: ReleaseInfo): GlobalModelRef {
  return { name: r.model, release: r.release, version: r.version, sha256: r.sha256, fetch: { type: 'tuf', target: r.target } };
}

/**
 * The releases of a TUF repository directory (`listReleases`) and their files, read where the
 * repository keeps them under consistent snapshots (`targets/<dir>/<sha256>.<name>`).
 */
export function repositoryReleases(repoDir: string, list: () => Promise<readonly ReleaseInfo[]>): ModelReleases {
  return {
    list,
    async read(ref) {
      const path = join(repoDir, 'targets', dirname(ref.fetch.target), `${ref.sha256}.${basename(ref.fetch.target)}`);
      const bytes = await readFile(path).catch((err: unknown) => {
        throw serviceError('E_RELEASE_UNKNOWN', `${ref.name} release ${ref.release}: cannot read ${path}: ${(err as Error).message}`);
      });
      const sha = createHash('sha256').update(bytes).digest('hex');
      if (sha !== ref.sha256) throw serviceError('E_RELEASE_UNKNOWN', `${ref.name} release ${ref.release}: ${path} hashes to ${sha}, the release says ${ref.sha256}`);
      return new Uint8Array(bytes);
    },
  };
}

/** The global model a round starts from: the release's float32 initializers, in the file's order. */
export function globalModelOf(ref: GlobalModelRef, onnx: Uint8Array): GlobalModel {
  const parameters: FloatTensor[] = readFloatInitializers(onnx).map((t) => ({ name: t.name, shape: [...t.dims], values: t.data }));
  return { version: ref.release, parameters };
}

/** Metadata key of the pooled calibration a released model carries (models/anomaly reads it; the fleet never rewrites a model's own metadata). */
export const CALIBRATION_METADATA_KEY = 'federated.calibration';

/** What `federated.calibration` holds (JSON): the round's pooled fit and the release it was measured under. */
export interface ReleasedCalibration extends RoundCalibration {
  /** The release the round started from: the gateways measured their held-out windows under it, one release before this one. */
  readonly measuredOnRelease: number;
}

/**
 * The next global model's ONNX file: the same graph with the round's parameters, which task and
 * round made it, and the round's pooled calibration when it had one. Without one, a
 * `federated.calibration` the starting model carried stays (older, but nearer than the
 * trained-in one).
 */
export function nextModelFile(onnx: Uint8Array, parameters: readonly FloatTensor[], task: string, round: number, calibration: ReleasedCalibration | null = null): Uint8Array {
  const calib: Record<string, string> = calibration === null ? {} : { [CALIBRATION_METADATA_KEY]: JSON.stringify({ logMean: calibration.logMean, logStd: calibration.logStd, windows: calibration.windows, measuredOnRelease: calibration.measuredOnRelease }) };
  return withInitializers(
    onnx,
    parameters.map((p) => ({ name: p.name, dims: p.shape, data: p.values })),
    { 'federated.task': task, 'federated.round': String(round), ...calib },
  );
}
