import { constants } from 'node:fs';
import { access, open, readFile, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { formatPath } from '../../fleet/protocol/schema-problems.js';

type Path = readonly (string | number)[];

/** A file or directory the config names, with the config path of the key that names it. */
export interface FileRef {
  readonly path: Path;
  /** Absolute (resolved against the config file's directory). */
  readonly file: string;
  /** `a readable file` needs read access; `a data directory` needs to exist and be writable, or be creatable. */
  readonly kind: 'file' | 'dataDir';
  /** For the message: `a PEM CA certificate`, `an ONNX model`. */
  readonly what: string;
  /** Problems of the contents (paths from the config's root), asked once the file is readable. */
  readonly inspect?: (bytes: Uint8Array) => Promise<readonly { readonly path: Path; readonly expected: string; readonly got: string }[]>;
}

export interface FileProblem {
  readonly path: Path;
  readonly text: string;
}

function reason(err: unknown): string {
  return (err as NodeJS.ErrnoException).code ?? (err as Error).message;
}

async function checkReadable(ref: FileRef): Promise<string | undefined> {
  try {
    const s = await stat(ref.file);
    if (s.isDirectory()) return 'a directory';
    const handle = await open(ref.file, 'r');
    await handle.close();
    return undefined;
  } catch (err) {
    return reason(err);
  }
}

/**
 * The data directory: an existing directory we may write, or a path whose nearest existing
 * ancestor is such a directory (the gateway creates the rest). Checked with access(2), which
 * also says EROFS for a read-only filesystem; nothing is written.
 */
async function checkDataDir(dir: string): Promise<string | undefined> {
  let at = dir;
  for (;;) {
    let isDir: boolean;
    try {
      isDir = (await stat(at)).isDirectory();
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') {
        const up = dirname(at);
        if (up === at) return reason(err);
        at = up;
        continue;
      }
      return reason(err);
    }
    const where = at === dir ? '' : ` (${JSON.stringify(at)} would hold it)`;
    if (!isDir) return at === dir ? 'a file, not a directory' : `a path through a file${where}`;
    try {
      await access(at, constants.W_OK | constants.X_OK);
      return undefined;
    } catch (err) {
      return `not writable: ${reason(err)}${where}`;
    }
  }
}

/** The problems of a readable file's contents, by the plug-in's own inspection. */
async function contentProblems(ref: FileRef): Promise<FileProblem[]> {
  if (ref.inspect === undefined) return [];
  let bytes: Uint8Array;
  try {
    bytes = await readFile(ref.file);
  } catch (err) {
    return [{ path: ref.path, text: `${formatPath(ref.path)}: expected ${ref.what} (a readable file), got ${JSON.stringify(ref.file)} (${reason(err)})` }];
  }
  return (await ref.inspect(bytes)).map((p) => ({ path: p.path, text: `${formatPath(p.path)}: expected ${p.expected}, got ${p.got}` }));
}

/** Checks every reference; one problem per reference that fails, and those of the contents of readable ones. */
export async function fileProblems(refs: readonly FileRef[]): Promise<FileProblem[]> {
  const results = await Promise.all(
    refs.map(async (ref): Promise<FileProblem[]> => {
      const why = ref.kind === 'dataDir' ? await checkDataDir(ref.file) : await checkReadable(ref);
      if (why === undefined) return contentProblems(ref);
      const expected = ref.kind === 'dataDir' ? `${ref.what} (a writable directory, or a path the gateway can create)` : `${ref.what} (a readable file)`;
      return [{ path: ref.path, text: `${formatPath(ref.path)}: expected ${expected}, got ${JSON.stringify(ref.file)} (${why})` }];
    }),
  );
  return results.flat();
}
