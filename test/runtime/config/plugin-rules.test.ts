import { writeFile } from 'node:fs/promises';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../../runtime/config/load.js';
import { ConfigError } from '../../../runtime/errors.js';
import { Gateway } from '../../../runtime/gateway.js';
import { builtinRegistry } from '../../../runtime/plugins.js';
import { defineStage } from '../../../runtime/pipeline/registry.js';
import { runCli } from '../../support/gateway-process.js';
import { makeTempDir } from '../../support/temp-dir.js';

const head = (dataDir: string): string => `gateway:\n  id: gw-1\n  dataDir: ${dataDir}\nuplink:\n  url: mqtt://127.0.0.1:1\ndevices:\n  - { id: d1, type: synthetic, rateHz: 10, channels: [{ name: x }] }\n`;
const anomaly = (extra: string): string => `pipelines:\n  - id: p\n    source: d1\n    stages:\n      - type: anomaly\n${extra}`;

function problemsOf(yaml: string, registry = builtinRegistry()): string[] {
  try {
    parseConfig(yaml, 'test.yaml', registry);
  } catch (err) {
    if (err instanceof ConfigError) return [...err.problems];
    throw err;
  }
  return [];
}

describe("plug-ins' cross-field rules run at check time", () => {
  let dir: { path: string; remove: () => Promise<void> };
  beforeAll(async () => {
    dir = await makeTempDir();
  });
  afterAll(async () => {
    await dir.remove();
  });

  it('anomaly: a clearThreshold above raiseThreshold is a problem at its key and line', () => {
    const problems = problemsOf(`${head('/tmp/x')}${anomaly('        alert: { raiseThreshold: 0.4, clearThreshold: 0.6 }\n')}`);
    expect(problems).toEqual(['pipelines[0].stages[0].alert.clearThreshold: expected a number <= alert.raiseThreshold (0.4), got 0.6 (line 13)']);
  });

  it('anomaly: a clearThreshold above the default raiseThreshold says the other side is the default', () => {
    expect(problemsOf(`${head('/tmp/x')}${anomaly('        alert: { clearThreshold: 0.5 }\n')}`)).toEqual([
      'pipelines[0].stages[0].alert.clearThreshold: expected a number <= alert.raiseThreshold (0.4, the default), got 0.5 (line 13)',
    ]);
  });

  it('anomaly: a managed model needs the autoencoder detector and an updates section', () => {
    const problems = problemsOf(`${head('/tmp/x')}${anomaly('        autoencoder: { managed: press }\n')}`);
    expect(problems).toHaveLength(2);
    expect(problems[0]).toMatch(/^pipelines\[0\]\.stages\[0\]\.autoencoder\.managed: expected detector: autoencoder/);
    expect(problems[1]).toMatch(/^pipelines\[0\]\.stages\[0\]\.autoencoder\.managed: expected an `updates` section/);
  });

  it('anomaly: a streaming drift band is accepted; one of too many blocks, or on the autoencoder, is a problem at its key', () => {
    expect(problemsOf(`${head('/tmp/x')}${anomaly('        streaming: { bandLagMs: 5000, bandMinHistoryMs: 20000, bandBlockMs: 1000, bandMargin: 0.5 }\n')}`)).toEqual([]);
    expect(problemsOf(`${head('/tmp/x')}${anomaly('        streaming: { bandLagMs: 86400000, bandBlockMs: 100 }\n')}`)).toEqual([
      'pipelines[0].stages[0].streaming.bandBlockMs: expected at most 10000 blocks in the lag (bandBlockMs >= bandLagMs / 10000 = 8640), got bandLagMs 86400000, bandBlockMs 100 (line 13)',
    ]);
    expect(problemsOf(`${head('/tmp/x')}${anomaly('        detector: autoencoder\n        streaming: { bandLagMs: 5000 }\n')}`)).toEqual([
      expect.stringMatching(/^pipelines\[0\]\.stages\[0\]\.streaming: expected detector: streaming .*got detector autoencoder/),
    ]);
  });

  it('a managed model need not be in updates.models: the fleet\'s rollout notices deliver it (updates.models only adds polling)', () => {
    const updates = 'updates:\n  metadataUrl: http://127.0.0.1:1/metadata\n  targetBaseUrl: http://127.0.0.1:1/targets\n  rootFile: root.json\n  models: []\n';
    expect(problemsOf(`${head('/tmp/x')}${updates}${anomaly('        detector: autoencoder\n        autoencoder: { managed: press }\n')}`)).toEqual([]);
  });

  it('vision: zone counts without zones are a problem at their key', () => {
    const camera = '  - { id: cam, type: camera, input: { tcp: "127.0.0.1:5000" } }\n';
    const vision = (extra: string): string => `pipelines:\n  - { id: c, source: cam, stages: [{ type: vision, zoneCounts: { everyMs: 1000 }${extra} }] }\n`;
    expect(problemsOf(`${head('/tmp/x')}${camera}${vision('')}`)).toEqual([expect.stringMatching(/^pipelines\[0\]\.stages\[0\]\.zoneCounts: expected zones to count in .*got no zones/)]);
    expect(problemsOf(`${head('/tmp/x')}${camera}${vision(', zones: [[[0, 0], [10, 0], [10, 10]]], detections: { everyMs: 500, maxDetections: 5 }, tracker: { classAware: false }')}`)).toEqual([]);
    expect(problemsOf(`${head('/tmp/x')}${camera}${vision(', zones: [[[0, 0], [10, 0], [10, 10]]], detections: { everyMs: 10 }')}`)).toEqual([expect.stringMatching(/detections\.everyMs/)]);
  });

  it('camera: reconnect delays the wrong way round are a problem, not a RangeError at start', () => {
    const yaml = `${head('/tmp/x')}  - { id: cam, type: camera, input: { tcp: "127.0.0.1:5000" }, reconnect: { minDelayMs: 5000, maxDelayMs: 100 } }\npipelines:\n  - { id: c, source: cam, stages: [{ type: vision }] }\n`;
    expect(problemsOf(yaml)).toEqual([expect.stringMatching(/^devices\[1\]\.reconnect\.maxDelayMs: expected reconnect\.minDelayMs <= maxDelayMs/)]);
  });

  it('vision: a layout of the other task, a crop classifier or the built-in detector with a classification model are problems', () => {
    const vision = (entry: string): string => `${head('/tmp/x')}  - { id: cam, type: camera, input: { file: /dev/null } }\npipelines:\n  - { id: c, source: cam, stages: [${entry}] }\n`;
    expect(problemsOf(vision('{ type: vision, model: { path: /m.onnx }, task: detection, layout: classification }'))).toEqual([
      'pipelines[0].stages[0].layout: expected a detection layout (yolov8, yolov5 or ssd) or auto, got classification (line 10)',
    ]);
    expect(problemsOf(vision('{ type: vision, model: { path: /m.onnx }, layout: classification, classifier: { builtin: defect-classifier } }'))).toEqual([
      'pipelines[0].stages[0].classifier: expected no crop classifier with a whole-frame classification model (it names detected boxes), got one (line 10)',
    ]);
    expect(problemsOf(vision('{ type: vision, task: classification }'))).toEqual([
      'pipelines[0].stages[0].task: expected a classification model (model.path or model.managed): the built-in defect detector detects, got task classification (line 10)',
    ]);
  });

  it('--check refuses clearThreshold > raiseThreshold with exit code 2, and a start does too (before: exit 1 and a stack trace)', async () => {
    const file = `${dir.path}/hysteresis.yaml`;
    await writeFile(file, `${head(`${dir.path}/data`)}${anomaly('        alert: { raiseThreshold: 0.3, clearThreshold: 0.35 }\n')}`);
    for (const args of [['--check'], []]) {
      const { code, stdout, stderr } = await runCli(['gateway', '--config', file, ...args]);
      expect(code).toBe(2);
      expect(stdout).toBe('');
      expect(stderr).toContain('pipelines[0].stages[0].alert.clearThreshold: expected a number <= alert.raiseThreshold (0.3), got 0.35 (line 13)');
      expect(stderr).not.toMatch(/\n\s+at .+:\d+:\d+/);
    }
  });

  it('a plug-in that still refuses at start is a config error naming the entry (ConfigError, not a crash)', async () => {
    const registry = builtinRegistry().register(
      defineStage({
        type: 'boom',
        configSchema: { type: 'object', properties: { type: { const: 'boom' } }, required: ['type'], additionalProperties: false } as const,
        flow: { accepts: ['samples'], emits: ['samples'], passes: [] },
        create: () => {
          throw new RangeError('boom: the device answered with nonsense');
        },
      }),
    );
    const config = parseConfig(`${head(`${dir.path}/never`)}pipelines:\n  - { id: p, source: d1, stages: [{ type: boom }] }\n`, 'test.yaml', registry);
    const err = await Gateway.create(config, registry, { logger: pino({ level: 'silent' }) }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).problems).toEqual(['pipelines[0].stages[0] (stage boom): boom: the device answered with nonsense']);
  });
});
