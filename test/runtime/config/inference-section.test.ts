import { writeFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../../runtime/config/load.js';
import { ConfigError } from '../../../runtime/errors.js';
import { builtinRegistry } from '../../../runtime/plugins.js';
import { runCli } from '../../support/gateway-process.js';
import { simNpuPlugin } from '../../support/sim-npu-backend.js';
import { makeTempDir } from '../../support/temp-dir.js';

const head = 'gateway:\n  id: gw-1\n  dataDir: /tmp/edgewise-never-opened\nuplink:\n  url: mqtt://127.0.0.1:1\ndevices:\n  - { id: d1, type: synthetic, rateHz: 10, channels: [{ name: x }] }\n';
const camera = 'devices:\n  - { id: cam, type: camera, input: { tcp: "127.0.0.1:5000" } }\n';
const gatewayOnly = 'gateway:\n  id: gw-1\n  dataDir: /tmp/edgewise-never-opened\nuplink:\n  url: mqtt://127.0.0.1:1\n';
const anomalyWith = (providers: string): string => `pipelines:\n  - id: p\n    source: d1\n    stages:\n      - { type: anomaly, detector: autoencoder, autoencoder: { providers: ${providers} } }\n`;
const visionWith = (providers: string): string => `pipelines:\n  - { id: c, source: cam, stages: [{ type: vision, providers: ${providers} }] }\n`;
const updatesWith = (providers: string): string => `updates:\n  metadataUrl: http://127.0.0.1:1/metadata\n  targetBaseUrl: http://127.0.0.1:1/targets\n  rootFile: root.json\n  providers: ${providers}\n`;

function parse(yaml: string, registry = builtinRegistry()): { problems: string[]; inference?: { backend: string; config: unknown } } {
  try {
    return { problems: [], inference: parseConfig(yaml, 'test.yaml', registry).inference };
  } catch (err) {
    if (err instanceof ConfigError) return { problems: [...err.problems] };
    throw err;
  }
}

describe('the inference section', () => {
  it('is optional: without it the gateway runs ONNX Runtime with its defaults', () => {
    expect(parse(head)).toEqual({ problems: [], inference: { backend: 'onnxruntime', config: { backend: 'onnxruntime' } } });
    expect(parse(`${head}inference: {}\n`).inference?.backend).toBe('onnxruntime');
  });

  it("takes the backend's own settings, checked by the backend's schema", () => {
    expect(parse(`${head}inference: { backend: onnxruntime, providers: [cuda, cpu], threads: 2 }\n`)).toEqual({
      problems: [],
      inference: { backend: 'onnxruntime', config: { backend: 'onnxruntime', providers: ['cuda', 'cpu'], threads: 2 } },
    });
    expect(parse(`${head}inference: { providers: [tensorrt, cuda, cpu] }\n`).inference?.config).toEqual({ backend: 'onnxruntime', providers: ['tensorrt', 'cuda', 'cpu'] });
    expect(parse(`${head}inference: { backend: onnxruntime, thread: 2 }\n`).problems).toEqual(['inference.thread: expected a known key, got unknown key "thread"; did you mean "threads"? (line 8)']);
    expect(parse(`${head}inference: { threads: 0 }\n`).problems).toEqual([expect.stringMatching(/^inference\.threads: expected an integer >= 1, got 0/)]);
    expect(parse(`${head}inference: { providers: [cpu, cpu] }\n`).problems).toEqual([expect.stringMatching(/^inference\.providers: /)]);
  });

  it('an unknown backend is a problem naming the ones there are', () => {
    expect(parse(`${head}inference: { backend: hailo, providers: [hailo8] }\n`).problems).toEqual(['inference.backend: expected an inference backend: one of "onnxruntime", got string "hailo" (line 8)']);
    const withSim = builtinRegistry().register(simNpuPlugin());
    expect(parse(`${head}inference: { backend: hailo }\n`, withSim).problems).toEqual(['inference.backend: expected an inference backend: one of "onnxruntime", "sim-npu", got string "hailo" (line 8)']);
  });

  it('a provider the chosen backend does not know is a problem, wherever the config names one', () => {
    expect(parse(`${head}inference: { providers: [cudaa, cpu] }\n`).problems).toEqual([expect.stringMatching(/^inference\.providers\[0\]: expected one of "cpu", "cuda", "tensorrt", "dml", "coreml", "qnn", "webgpu", got string "cudaa" \(line 8\)$/)]);
    // A stage's own list (an override) and the updater's are checked against the same backend.
    expect(parse(`${head}${anomalyWith('[gpu, cpu]')}`).problems).toEqual([expect.stringMatching(/^pipelines\[0\]\.stages\[0\]\.autoencoder\.providers\[0\]: expected a provider the onnxruntime inference backend knows \(one of "cpu", "cuda", .*\), got string "gpu" \(line \d+\)$/)]);
    expect(parse(`${gatewayOnly}${camera}${visionWith('[cpu, npu]')}`).problems).toEqual([expect.stringMatching(/^pipelines\[0\]\.stages\[0\]\.providers\[1\]: expected a provider the onnxruntime inference backend knows .*got string "npu"/)]);
    expect(parse(`${head}${updatesWith('[cuda, npu]')}`).problems).toEqual([expect.stringMatching(/^updates\.providers\[1\]: expected a provider the onnxruntime inference backend knows .*got string "npu"/)]);
    // Existing configs with per-stage providers stay valid.
    expect(parse(`${head}${anomalyWith('[cuda, cpu]')}`).problems).toEqual([]);
    expect(parse(`${gatewayOnly}${camera}${visionWith('[tensorrt, cuda, cpu]')}`).problems).toEqual([]);
    expect(parse(`${head}${updatesWith('[cuda, cpu]')}`).problems).toEqual([]);
  });

  it("another backend brings its own schema and provider names: what is right for one is a problem for the other", () => {
    const registry = builtinRegistry().register(simNpuPlugin());
    const sim = 'inference: { backend: sim-npu, providers: [npu, cpu], devicePresent: false }\n';
    expect(parse(`${gatewayOnly}${sim}${camera}${visionWith('[npu]')}`, registry)).toEqual({
      problems: [],
      inference: { backend: 'sim-npu', config: { backend: 'sim-npu', providers: ['npu', 'cpu'], devicePresent: false } },
    });
    expect(parse(`${gatewayOnly}${camera}${visionWith('[npu]')}`, registry).problems).toEqual([expect.stringMatching(/got string "npu"/)]);
    expect(parse(`${gatewayOnly}${sim}${camera}${visionWith('[cuda]')}`, registry).problems).toEqual([expect.stringMatching(/^pipelines\[0\]\.stages\[0\]\.providers\[0\]: expected a provider the sim-npu inference backend knows \(one of "npu", "cpu"\), got string "cuda"/)]);
    expect(parse(`${gatewayOnly}inference: { backend: sim-npu, threads: 2 }\n`, registry).problems).toEqual([expect.stringMatching(/^inference\.threads: expected one of the known keys \(backend, providers, devicePresent\), got unknown key "threads"/)]);
  });
});

describe('edgewise gateway --check with an inference section', () => {
  let dir: { path: string; remove: () => Promise<void> };
  beforeAll(async () => {
    dir = await makeTempDir();
  });
  afterAll(async () => {
    await dir.remove();
  });

  it('an unknown backend: exit code 2 and one clear problem at its line', async () => {
    const file = `${dir.path}/hailo.yaml`;
    await writeFile(file, `${head}inference:\n  backend: hailo\n  providers: [hailo8]\n`);
    const { code, stdout, stderr } = await runCli(['gateway', '--config', file, '--check']);
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toContain('inference.backend: expected an inference backend: one of "onnxruntime", got string "hailo" (line 9)');
    expect(stderr).not.toMatch(/\n\s+at .+:\d+:\d+/);
  });

  it('a good one passes and names the backend', async () => {
    const file = `${dir.path}/good.yaml`;
    await writeFile(file, `${head}inference:\n  backend: onnxruntime\n  providers: [cuda, cpu]\n  threads: 2\n`);
    const { code, stdout } = await runCli(['gateway', '--config', file, '--check']);
    expect(code).toBe(0);
    expect(stdout).toContain('inference onnxruntime');
  });
});
