import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { makeTempDir } from '../../support/temp-dir.js';

const ROOT = join(import.meta.dirname, '..', '..', '..');

// A box without a working H.264 decoder (linux-arm64 without FFmpeg 6, see README "Platforms"):
// simulated on x64 by telling node-webcodecs to load only a source build, which is not there.
// test/install/arm64-smoke.test.ts sees the real case under qemu.
describe('a camera config on a box whose H.264 decoder cannot load', () => {
  let dir: { path: string; remove: () => Promise<void> };
  beforeEach(async () => {
    dir = await makeTempDir();
  });
  afterEach(async () => {
    await dir.remove();
  });

  it('fails gateway --check with exit 2, naming the device and both ways to get a decoder', () => {
    expect(existsSync(join(ROOT, 'dist', 'cli', 'main.js')), 'dist/: run npm run build (npm test does it)').toBe(true);
    expect(existsSync(join(ROOT, 'node_modules', 'node-webcodecs', 'build', 'Release')), 'a source build of node-webcodecs exists: this test needs none').toBe(false);
    const config = readFileSync(join(ROOT, 'runtime', 'gateway.example.yaml'), 'utf8')
      .replace(/^( {2}dataDir:) data\b/m, `$1 ${join(dir.path, 'data')}`)
      .replace(/^devices:\n/m, 'devices:\n  - id: cam-1\n    type: camera\n    input: { tcp: 127.0.0.1:5000 }\n    streamFps: 30\n    fps: 10\n')
      .replace(/^pipelines:\n/m, 'pipelines:\n  - id: cam-1\n    source: cam-1\n    stages:\n      - type: vision\n');
    const file = join(dir.path, 'camera.yaml');
    writeFileSync(file, config);
    const check = (env: NodeJS.ProcessEnv) => spawnSync(join(ROOT, 'bin', 'edgewise'), ['gateway', '--config', file, '--check'], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 60_000 });

    const ok = check({});
    expect(ok.stderr).toBe('');
    expect(ok.status).toBe(0);

    const missing = check({ NODE_WEBCODECS_FORCE: 'source' });
    expect(missing.status).toBe(2);
    expect(missing.stdout).toBe('');
    expect(missing.stderr).toMatch(/devices\[0\]\.type: expected a loadable H\.264 decoder for cameras \(node-webcodecs\), got cannot load the H\.264 decoder \(node-webcodecs\): node-webcodecs: failed to load native binding/);
    expect(missing.stderr).toMatch(/install the optional dependency @node-webcodecs\/static-linux-x64; on linux-arm64 install FFmpeg 6 libraries/);
    expect(missing.stderr).not.toMatch(/\\x0a/); // one line per problem: the loader's newlines are joined
  });
});
