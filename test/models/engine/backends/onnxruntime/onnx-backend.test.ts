import { execFile } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { PROBE_MODEL_BASE64, probeProvidersInChild } from '../../../../../models/engine/backends/onnxruntime/provider-probe.js';
import { OnnxBackend } from '../../../../../models/engine/backends/onnxruntime/onnx-backend.js';
import { identityModel } from '../../../../../models/onnx/builder.js';

const run = promisify(execFile);

describe('ONNX Runtime engine', () => {
  const backend = new OnnxBackend();

  it('lists the providers this installation really has: cpu always, never one that cannot start', async () => {
    const providers = await backend.availableProviders();
    expect(providers).toContain('cpu');
    expect(providers).not.toContain('xnnpack');
    for (const p of providers) {
      const m = await backend.load(identityModel(), { providers: [p] });
      expect(m.provider).toBe(p);
      await m.close();
    }
  });

  it('probes in a child process: a gateway that runs no model never maps ONNX Runtime', async () => {
    // A fresh process that only probes: the library must not be among its mappings.
    const script = `const { OnnxBackend } = await import(${JSON.stringify(pathToFileURL(`${process.cwd()}/dist/models/engine/backends/onnxruntime/onnx-backend.js`).href)});
      const p = await new OnnxBackend().availableProviders();
      const maps = (await import('node:fs')).readFileSync('/proc/self/maps', 'utf8');
      console.log(JSON.stringify({ p, mapped: maps.includes('libonnxruntime') }));`;
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script]);
    const answer = JSON.parse(stdout.trim()) as { p: string[]; mapped: boolean };
    expect(answer.p).toContain('cpu');
    expect(answer.mapped).toBe(false);
  });

  it('probes with the same one-node model the ONNX writer makes', () => {
    expect(PROBE_MODEL_BASE64).toBe(Buffer.from(identityModel()).toString('base64'));
  });

  it('says why when the probe cannot answer in time, and the process goes on', async () => {
    await expect(probeProvidersInChild(1)).rejects.toThrow(/provider probe: no answer in 0.001 s/);
    // The next probe is a fresh child: it answers.
    expect(await probeProvidersInChild()).toContain('cpu');
  });

  // Loading, running, falling back and refusing bad models: the backend contract (test/models/engine/backends.test.ts).
});
