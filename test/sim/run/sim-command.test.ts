import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli } from '../../support/gateway-process.js';
import { makeTempDir } from '../../support/temp-dir.js';

describe('edgewise sim', () => {
  let cleanup: (() => Promise<void>) | undefined;
  afterEach(async () => {
    await cleanup?.();
    cleanup = undefined;
  });

  it('lists both forms in its help: a scenario file, and the MCU alone', async () => {
    const r = await runCli(['sim', '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('edgewise sim SCENARIO.yaml');
    expect(r.stdout).toMatch(/--report-dir <dir>/);
    expect(r.stdout).toMatch(/--duration <s>/);
    expect(r.stdout).toMatch(/^\s+mcu \[options\]/m);
    // `sim mcu` still parses as the subcommand, not as a scenario named "mcu".
    const mcu = await runCli(['sim', 'mcu', '--help']);
    expect(mcu.code).toBe(0);
    expect(mcu.stdout).toContain('--pty <path>');
  });

  it('refuses a bad scenario file before starting anything, naming the path and line', async () => {
    const dir = await makeTempDir('edgewise-sim-cmd-');
    cleanup = dir.remove;
    const file = join(dir.path, 'bad.yaml');
    await writeFile(file, 'name: bad\nduration: 60\ngateways:\n  - { group: a, synthetic: {} }\n');
    const r = await runCli(['sim', file]);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/duration: expected a time with a unit.*got 60 \(line 2\)/);
    expect(r.stdout).not.toContain('fleet: console');
  });

  it('refuses a duration that is not a number of seconds', async () => {
    const r = await runCli(['sim', 'sim/scenarios/default.yaml', '--duration', '20s']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--duration: expected seconds from 1 to 86400, got "20s"');
  });
});
