import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { encodeVisionEvaluationSet } from '../../../fleet/protocol/evaluation-set.js';
import { makeTempDir } from '../../support/temp-dir.js';
import { waitFor } from '../../support/wait-for.js';

const run = promisify(execFile);
const BIN = join(import.meta.dirname, '../../../bin/edgewise');

async function edgewise(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await run(BIN, args, { encoding: 'utf8' });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('edgewise keys / repo / tuf-client (the commands an operator and the conformance suite run)', () => {
  let dir: { path: string; remove: () => Promise<void> };
  let server: ChildProcess | undefined;
  beforeEach(async () => {
    dir = await makeTempDir();
  });
  afterEach(async () => {
    server?.kill('SIGTERM');
    await dir.remove();
  });

  it('makes keys, a repository with a signed model release, serves it, and a client downloads it once', async () => {
    const k = `${dir.path}/keys`;
    const ids: Record<string, string> = {};
    for (const role of ['root', 'targets', 'snapshot', 'timestamp']) {
      const r = await edgewise(['keys', 'generate', '--role', role, '--out', k]);
      expect(r.code, r.stderr).toBe(0);
      ids[role] = (JSON.parse(r.stdout) as { private: string }).private;
    }
    const repo = `${dir.path}/repo`;
    expect((await edgewise(['repo', 'init', '--repo', repo, '--keys', k])).code).toBe(0);
    await writeFile(`${dir.path}/m.onnx`, new Uint8Array(1000).fill(7));
    await writeFile(`${dir.path}/gi.bin`, new Uint8Array(16));
    await writeFile(`${dir.path}/go.bin`, new Uint8Array(16));
    const add = await edgewise(['repo', 'add-model', '--repo', repo, '--model', `${dir.path}/m.onnx`, '--golden-input', `${dir.path}/gi.bin`, '--golden-output', `${dir.path}/go.bin`, '--name', 'press', '--release', '1', '--model-version', '1.0', '--input-name', 'x', '--dims', '1,4', '--output-name', 'y']);
    expect(add.code, add.stderr).toBe(0);
    // A labelled evaluation set that is not one is refused here, named, rather than by every gateway of a rollout.
    await writeFile(`${dir.path}/eval.cbor`, 'labels,windows\n0,1\n');
    const badEval = await edgewise(['repo', 'add-model', '--repo', repo, '--model', `${dir.path}/m.onnx`, '--golden-input', `${dir.path}/gi.bin`, '--golden-output', `${dir.path}/go.bin`, '--name', 'press', '--release', '2', '--model-version', '2.0', '--input-name', 'x', '--dims', '1,4', '--output-name', 'y', '--evaluation-set', `${dir.path}/eval.cbor`]);
    expect(badEval.code).toBe(2);
    expect(badEval.stderr).toMatch(/--evaluation-set .*eval\.cbor: evaluation set: /);
    // A vision set (camera frames with labelled boxes) is checked box by box, and one that reads is staged beside the model.
    const frame = { format: 'RGBA' as const, width: 4, height: 2, pixels: new Uint8Array(32) };
    await writeFile(`${dir.path}/vision-bad.cbor`, encodeVisionEvaluationSet({ classNames: ['part'], frames: [{ ...frame, boxes: [{ classId: 0, x: 1, y: 0, w: 0, h: 1 }] }] }));
    await writeFile(`${dir.path}/vision.cbor`, encodeVisionEvaluationSet({ classNames: ['part'], frames: [{ ...frame, boxes: [{ classId: 0, x: 1, y: 0, w: 2, h: 1 }] }, { ...frame, boxes: [] }] }));
    const addVision = (set: string): Promise<{ code: number; stdout: string; stderr: string }> =>
      edgewise(['repo', 'add-model', '--repo', repo, '--model', `${dir.path}/m.onnx`, '--golden-input', `${dir.path}/gi.bin`, '--golden-output', `${dir.path}/go.bin`, '--name', 'press', '--release', '2', '--model-version', '2.0', '--input-name', 'x', '--dims', '1,4', '--output-name', 'y', '--evaluation-set', set]);
    const badVision = await addVision(`${dir.path}/vision-bad.cbor`);
    expect(badVision.code).toBe(2);
    expect(badVision.stderr).toContain('vision-bad.cbor: evaluation set: frames[0].boxes[0].w: must be > 0, got 0');
    const vision = await addVision(`${dir.path}/vision.cbor`);
    expect(vision.code, vision.stderr).toBe(0);
    expect(vision.stdout).toContain('models/press/2/model.onnx (evaluation set: 2 frames, 1 labelled boxes): sign targets, then publish');
    // Unsigned: publishing is refused, with the reason.
    const early = await edgewise(['repo', 'publish', '--repo', repo, '--snapshot-key', ids['snapshot'] as string, '--timestamp-key', ids['timestamp'] as string]);
    expect(early.code).toBe(2);
    expect(early.stderr).toMatch(/root v1: .*signed by 0\/1/);
    expect((await edgewise(['repo', 'sign', '--repo', repo, '--role', 'root', '--key', ids['root'] as string])).code).toBe(0);
    expect((await edgewise(['repo', 'sign', '--repo', repo, '--role', 'targets', '--key', ids['targets'] as string])).code).toBe(0);
    expect((await edgewise(['repo', 'publish', '--repo', repo, '--snapshot-key', ids['snapshot'] as string, '--timestamp-key', ids['timestamp'] as string])).code).toBe(0);

    const srv = spawn(BIN, ['repo', 'serve', '--repo', repo, '--http', '127.0.0.1:0']);
    server = srv;
    let out = '';
    srv.stdout?.on('data', (b: Buffer) => (out += b.toString()));
    const url = await waitFor(() => /http:\/\/[\d.]+:\d+/.exec(out)?.[0], 'the repository server');

    const md = `${dir.path}/client/metadata`;
    expect((await edgewise(['tuf-client', '--metadata-dir', md, 'init', `${repo}/metadata/1.root.json`])).code).toBe(0);
    const refresh = await edgewise(['tuf-client', '--metadata-dir', md, '--metadata-url', `${url}/metadata`, 'refresh']);
    expect(refresh.code, refresh.stderr).toBe(0);
    const download = ['tuf-client', '--metadata-dir', md, '--metadata-url', `${url}/metadata`, '--target-name', 'models/press/1/model.onnx', '--target-name', 'models/press/1/golden-input.bin', '--target-base-url', `${url}/targets`, '--target-dir', `${dir.path}/client/targets`, 'download'];
    expect((await edgewise(download)).code).toBe(0);
    const file = `${dir.path}/client/targets/${encodeURIComponent('models/press/1/model.onnx')}`;
    const first = (await stat(file)).mtimeMs;
    expect((await readdir(`${dir.path}/client/targets`)).length).toBe(2);
    expect((await edgewise(download)).code).toBe(0);
    expect((await stat(file)).mtimeMs).toBe(first); // already there with matching hashes: not fetched again

    const missing = await edgewise(['tuf-client', '--metadata-dir', md, '--metadata-url', `${url}/metadata`, '--target-name', 'models/press/9/model.onnx', '--target-base-url', `${url}/targets`, '--target-dir', `${dir.path}/client/targets`, 'download']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/E_TRUST_NOT_LISTED/);
  }, 60_000);

  it('delegates one model\'s releases to a federated role (a one-level pattern refused with the right one named) and signs a release as that role, never another model\'s', async () => {
    const k = `${dir.path}/keys`;
    const priv: Record<string, string> = {};
    const pub: Record<string, string> = {};
    for (const role of ['root', 'targets', 'snapshot', 'timestamp', 'federated-line-3']) {
      const r = await edgewise(['keys', 'generate', '--role', role, '--out', k]);
      expect(r.code, r.stderr).toBe(0);
      priv[role] = (JSON.parse(r.stdout) as { private: string }).private;
      pub[role] = (JSON.parse(r.stdout) as { public: string }).public;
    }
    const repo = `${dir.path}/repo`;
    // The federated key in the same directory is not a root key: init leaves it for `delegate`.
    const init = await edgewise(['repo', 'init', '--repo', repo, '--keys', k]);
    expect(init.code, init.stderr).toBe(0);
    const delegate = (paths: string): Promise<{ code: number; stdout: string; stderr: string }> => edgewise(['repo', 'delegate', '--repo', repo, '--role', 'federated-line-3', '--key', pub['federated-line-3'] as string, '--paths', paths]);
    const shallow = await delegate('models/motor/*');
    expect(shallow.code).toBe(2);
    expect(shallow.stderr).toContain('use "models/motor/*/*"');
    const ok = await delegate('models/motor/*/*');
    expect(ok.code, ok.stderr).toBe(0);
    await writeFile(`${dir.path}/m.onnx`, new Uint8Array(1000).fill(7));
    await writeFile(`${dir.path}/g.bin`, new Uint8Array(16));
    const addAs = (name: string): Promise<{ code: number; stdout: string; stderr: string }> =>
      edgewise(['repo', 'add-model', '--repo', repo, '--model', `${dir.path}/m.onnx`, '--golden-input', `${dir.path}/g.bin`, '--golden-output', `${dir.path}/g.bin`, '--name', name, '--release', '1', '--model-version', '1.0', '--input-name', 'x', '--dims', '1,4', '--output-name', 'y', '--signed-by', 'federated-line-3', '--role-key', priv['federated-line-3'] as string]);
    const other = await addAs('press');
    expect(other.code).toBe(2);
    expect(other.stderr).toContain('federated-line-3 may not sign models/press/1/model.onnx: its delegation in targets v1 allows only models/motor/*/*');
    const motor = await addAs('motor');
    expect(motor.code, motor.stderr).toBe(0);
    expect(motor.stdout).toContain('signed models/motor/1/model.onnx as federated-line-3: publish');
    expect((await edgewise(['repo', 'sign', '--repo', repo, '--role', 'root', '--key', priv['root'] as string])).code).toBe(0);
    expect((await edgewise(['repo', 'sign', '--repo', repo, '--role', 'targets', '--key', priv['targets'] as string])).code).toBe(0);
    const published = await edgewise(['repo', 'publish', '--repo', repo, '--snapshot-key', priv['snapshot'] as string, '--timestamp-key', priv['timestamp'] as string]);
    expect(published.code, published.stderr).toBe(0);
    expect(JSON.parse(published.stdout)).toEqual({ root: 1, targets: 1, snapshot: 1, delegated: { 'federated-line-3': 1 } });
  }, 60_000);
});
