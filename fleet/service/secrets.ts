import { open, readFile, rename } from 'node:fs/promises';

/** Writes a secret file readable by its owner only, atomically (a crash leaves the old one or the new one). */
export async function writeSecretFile(path: string, content: string): Promise<void> {
  const tmp = `${path}.tmp`;
  const h = await open(tmp, 'w', 0o600);
  try {
    await h.chmod(0o600);
    await h.writeFile(content);
    await h.sync();
  } finally {
    await h.close();
  }
  await rename(tmp, path);
}

export async function readSecretFile(path: string): Promise<string | undefined> {
  try {
    return (await readFile(path, 'utf8')).trim();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}
