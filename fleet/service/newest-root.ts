import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';

/** The newest published root of a TUF repository (`metadata/N.root.json`), for new gateways to pin; null without one. */
export async function newestRoot(repoDir: string): Promise<unknown> {
  const names = await readdir(join(repoDir, 'metadata')).catch(() => [] as string[]);
  const versions = names.map((n) => /^(\d+)\.root\.json$/.exec(n)?.[1]).filter((v): v is string => v !== undefined).map(Number);
  if (versions.length === 0) return null;
  return JSON.parse(await readFile(join(repoDir, 'metadata', `${Math.max(...versions)}.root.json`), 'utf8')) as unknown;
}
