import type { KeyObject } from 'node:crypto';

export type RepoErrorCode = 'E_REPO_STATE' | 'E_REPO_THRESHOLD' | 'E_REPO_INPUT' | 'E_REPO_NOT_DELEGATED';

/**
 * A repository operation refused: `E_REPO_STATE` (not initialised, nothing staged),
 * `E_REPO_THRESHOLD` (too few valid signatures), `E_REPO_INPUT` (a bad argument),
 * `E_REPO_NOT_DELEGATED` (a delegated role asked to sign a path its delegation does not give it).
 */
export class RepoError extends Error {
  override readonly name = 'RepoError';
  constructor(
    readonly code: RepoErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export interface SigningKey {
  readonly keyid: string;
  readonly key: KeyObject;
}
