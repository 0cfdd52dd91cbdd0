import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../../runtime/config/load.js';
import { ConfigError } from '../../../runtime/errors.js';
import { edgeProblems } from '../../../runtime/pipeline/edge-types.js';
import { builtinRegistry } from '../../../runtime/plugins.js';

const head = `gateway:\n  id: gw-1\n  dataDir: /tmp/never\nuplink:\n  url: mqtt://127.0.0.1:1883\ndevices:\n  - { id: press, type: synthetic, rateHz: 10, channels: [{ name: x }] }\n  - { id: cam, type: camera, input: { file: clip.h264 } }\n`;

function problemsOf(yaml: string): string[] {
  try {
    parseConfig(yaml, 'test.yaml', builtinRegistry());
  } catch (err) {
    if (err instanceof ConfigError) return [...err.problems];
    throw err;
  }
  return [];
}

describe('typed pipeline edges', () => {
  it('every built-in plug-in declares its kinds', () => {
    const r = builtinRegistry();
    expect(Object.fromEntries(r.types('source').map((t) => [t, r.source(t)?.emits]))).toEqual({ camera: ['frames'], modbus: ['samples'], opcua: ['samples'], 'serial-sensor': ['samples'], synthetic: ['samples'] });
    for (const t of r.types('stage')) expect(r.stage(t)?.flow.accepts.length).toBeGreaterThan(0);
  });

  it('accepts camera -> vision -> store and sensor -> anomaly -> aggregate -> store', () => {
    expect(
      problemsOf(`${head}pipelines:\n  - { id: c, source: cam, stages: [{ type: vision }] }\n  - { id: p, source: press, stages: [{ type: anomaly }, { type: aggregate, windowMs: 1000 }] }\n`),
    ).toEqual([]);
  });

  it('refuses decoded frames into the store, naming the edge (a camera without a pipeline)', () => {
    expect(problemsOf(`${head}pipelines:\n  - { id: p, source: press }\n`)).toEqual([
      'devices[1]: expected a pipeline whose last edge the store can take (samples, summaries, events): add a stage that takes frames (vision), got the edge cam (camera) -> store carrying frames (line 8)',
    ]);
  });

  it('refuses frames into the store after a stage that passes them on', () => {
    const problems = problemsOf(`${head}pipelines:\n  - { id: c, source: cam, stages: [{ type: aggregate, windowMs: 1000 }] }\n  - { id: p, source: press }\n`);
    expect(problems).toEqual([expect.stringMatching(/^pipelines\[0\]\.stages\[0\]\.type: expected a stage that takes frames \(the edge cam \(camera\) -> aggregate carries frames; stages that take it: vision\), got aggregate, which takes samples/)]);
  });

  it('refuses samples into a vision stage, naming the edge', () => {
    const problems = problemsOf(`${head}pipelines:\n  - { id: p, source: press, stages: [{ type: vision }] }\n  - { id: c, source: cam, stages: [{ type: vision }] }\n`);
    expect(problems).toEqual([
      'pipelines[0].stages[0].type: expected a stage that takes samples (the edge press (synthetic) -> vision carries samples; stages that take it: aggregate, anomaly), got vision, which takes frames (line 10)',
    ]);
  });

  it('refuses frames into an anomaly stage', () => {
    const problems = problemsOf(`${head}pipelines:\n  - { id: c, source: cam, stages: [{ type: anomaly }, { type: vision }] }\n`);
    expect(problems[0]).toMatch(/^pipelines\[0\]\.stages\[0\]\.type: expected a stage that takes frames \(the edge cam \(camera\) -> anomaly carries frames/);
  });

  it('follows kinds through stages: summaries out of aggregate are not samples for anomaly', () => {
    const problems = edgeProblems({
      source: { id: 's', type: 'synthetic', emits: ['samples'] },
      stages: [
        { type: 'aggregate', flow: { accepts: ['samples'], emits: ['summaries'], passes: ['summaries', 'events'] }, path: ['pipelines', 0, 'stages', 0] },
        { type: 'anomaly', flow: { accepts: ['samples'], emits: ['events'], passes: ['samples', 'summaries', 'events'] }, path: ['pipelines', 0, 'stages', 1] },
      ],
      path: ['pipelines', 0],
      acceptedBy: () => [],
    });
    expect(problems).toEqual([{ path: ['pipelines', 0, 'stages', 1, 'type'], expected: 'a stage that takes summaries (the edge aggregate -> anomaly carries summaries)', got: 'anomaly, which takes samples' }]);
  });
});
