import { writeFile } from 'node:fs/promises';
import { expect } from 'vitest';
import { parseConfig } from '../../runtime/config/load.js';
import { ConfigError } from '../../runtime/errors.js';
import { builtinRegistry } from '../../runtime/plugins.js';
import { runCli } from './gateway-process.js';
import { makeTempDir } from './temp-dir.js';

/** The problems `parseConfig` reports for a config text (none: []); other errors are thrown. */
export function configProblems(yaml: string): string[] {
  try {
    parseConfig(yaml, 'test.yaml', builtinRegistry());
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    return [...err.problems];
  }
  return [];
}

/**
 * `edgewise gateway --check` on the config `yamlFor(dataDir)` written to a temp file: it exits
 * 2, prints nothing on stdout, each expected problem line on stderr, and no stack trace.
 */
export async function expectCheckRefuses(yamlFor: (dataDir: string) => string, expected: readonly string[]): Promise<void> {
  const dir = await makeTempDir();
  try {
    const file = `${dir.path}/gateway.yaml`;
    await writeFile(file, yamlFor(`${dir.path}/data`));
    const { code, stdout, stderr } = await runCli(['gateway', '--config', file, '--check']);
    expect(code).toBe(2);
    expect(stdout).toBe('');
    for (const line of expected) expect(stderr).toContain(line);
    expect(stderr).not.toMatch(/\n\s+at .+:\d+:\d+/);
  } finally {
    await dir.remove();
  }
}
