import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { trainAutoencoderModel } from '../../../models/anomaly/autoencoder/model.js';
import { OnnxBackend } from '../../../models/engine/backends/onnxruntime/onnx-backend.js';
import { encodeAnomalyEvaluationSet } from '../../../fleet/protocol/evaluation-set.js';
import { gaussian, sampleChannel, seededRandom, type ChannelSpec } from '../../../devices/synthetic/signals.js';
import type { Gateway } from '../../../runtime/gateway.js';
import { useFleetTestRig } from '../../support/fleet-test-rig.js';
import { runCli } from '../../support/gateway-process.js';
import { TufRig } from '../../support/tuf-rig.js';
import { waitFor } from '../../support/wait-for.js';
import { createRollout, rolloutState, startFleetAndGateways, type FleetApi } from './e2e-rig.js';

const RATE = 100;
const MODEL = 'motor-ae';
const N = 4;
const WINDOW = 16;

/** The machine every gateway watches: a motor's vibration, temperature and current. */
const MACHINE_A: ChannelSpec[] = [
  { name: 'vibration', sine: { amplitude: 1, frequencyHz: 7 }, noise: { stddev: 0.05 }, spikes: { probability: 0.002, height: 4 } },
  { name: 'temperature', offset: 40, sine: { amplitude: 0.5, frequencyHz: 0.2 }, noise: { stddev: 0.05 } },
  { name: 'current', offset: 10, sine: { amplitude: 2, frequencyHz: 3 }, noise: { stddev: 0.05 } },
];

/** Another machine: same channels, another running speed, load and operating point. */
const MACHINE_B: ChannelSpec[] = [
  { name: 'vibration', sine: { amplitude: 2.5, frequencyHz: 23 }, noise: { stddev: 0.2 } },
  { name: 'temperature', offset: 65, noise: { stddev: 0.3 } },
  { name: 'current', offset: 4, sine: { amplitude: 0.5, frequencyHz: 11 }, noise: { stddev: 0.2 } },
];

function record(machine: readonly ChannelSpec[], seconds: number, seed: number): Float64Array {
  const random = seededRandom(seed);
  const out = new Float64Array(seconds * RATE * machine.length);
  for (let i = 0; i < seconds * RATE; i += 1) machine.forEach((c, k) => (out[i * machine.length + k] = sampleChannel(c, (i * 1000) / RATE, random)));
  return out;
}

/** An autoencoder for `machine`, trained the way the fleet would, with its golden input and output. */
async function train(machine: readonly ChannelSpec[], seed: number): Promise<{ bytes: Uint8Array; goldenIn: Float32Array; goldenOut: Float32Array }> {
  const { bytes } = await trainAutoencoderModel(record(machine, 60, seed), 60 * RATE, { channels: machine.map((c) => c.name), windowSamples: WINDOW, stride: 4, hidden: [16, 4, 16], epochs: 5, batchSize: 64, learningRate: 0.005, seed, heldOut: 0.2 });
  const random = seededRandom(seed);
  const goldenIn = Float32Array.from({ length: WINDOW * 3 }, () => gaussian(random));
  const model = await new OnnxBackend().load(bytes, { providers: ['cpu'] });
  const goldenOut = Float32Array.from((await model.run({ x: { data: goldenIn, dims: [1, WINDOW * 3] } }))['reconstruction']?.data ?? []);
  await model.close();
  return { bytes, goldenIn, goldenOut };
}

/**
 * A labelled evaluation set of machine A: normal running (0), and running with machine B's
 * vibration, a worn coupling, say (1). A model of machine A finds it; a model of machine B,
 * to which that vibration is normal, ranks it below normal running.
 */
function evaluationSetA(seed: number): Uint8Array {
  const faulty = MACHINE_A.map((c) => (c.name === 'vibration' ? (MACHINE_B[0] as ChannelSpec) : c));
  const normal = record(MACHINE_A, 20, seed);
  const fault = record(faulty, 10, seed + 1);
  const per = WINDOW * 3;
  const windows = new Float32Array([...normal.subarray(0, 120 * per), ...fault.subarray(0, 60 * per)]);
  const labels = Uint8Array.from({ length: 180 }, (_, i) => (i < 120 ? 0 : 1));
  return encodeAnomalyEvaluationSet({ channels: MACHINE_A.map((c) => c.name), windowSamples: WINDOW, count: 180, windows, labels });
}

const channelsYaml = (machine: readonly ChannelSpec[]): string => machine.map((c) => `      - ${JSON.stringify(c)}`).join('\n');

/**
 * Test 3 of the rollouts issue, with real parts: gateways watch a motor with the fleet's
 * autoencoder; a candidate trained on another machine, run in shadow on the canary, disagrees
 * with the active model, and the rollout stops there with the numbers, activated nowhere; a
 * candidate retrained on the right machine passes and goes to every gateway.
 */
describe('rollouts gated on quality measured in shadow, end to end', () => {
  const rig = useFleetTestRig();
  let tuf: TufRig;
  const gateways: Gateway[] = [];
  let good1: Awaited<ReturnType<typeof train>>;
  let wrong: Awaited<ReturnType<typeof train>>;
  let good2: Awaited<ReturnType<typeof train>>;

  beforeAll(async () => {
    good1 = await train(MACHINE_A, 1);
    wrong = await train(MACHINE_B, 2);
    good2 = await train(MACHINE_A, 3);
  }, 120_000);
  beforeEach(async () => {
    tuf = new TufRig(join(rig.dir.path, 'tuf'));
    await tuf.start();
  });
  afterEach(async () => {
    for (const g of gateways.splice(0)) await g.stop().catch(() => undefined);
    await tuf.stop();
  });

  async function publish(release: number, m: Awaited<ReturnType<typeof train>>, evaluation?: Uint8Array): Promise<string> {
    const d = join(rig.dir.path, 'in');
    await mkdir(d, { recursive: true });
    if (evaluation !== undefined) await writeFile(`${d}/eval${release}.cbor`, evaluation);
    await writeFile(`${d}/m${release}.onnx`, m.bytes);
    await writeFile(`${d}/gi${release}.bin`, new Uint8Array(m.goldenIn.buffer));
    await writeFile(`${d}/go${release}.bin`, new Uint8Array(m.goldenOut.buffer));
    const path = await tuf.repo.addModel({
      model: `${d}/m${release}.onnx`,
      goldenInput: `${d}/gi${release}.bin`,
      goldenOutput: `${d}/go${release}.bin`,
      ...(evaluation === undefined ? {} : { evaluationSet: `${d}/eval${release}.cbor` }),
      release: { model: MODEL, release, version: `1.${release}`, hardware: { arch: ['x64', 'arm64'], accelerators: ['cpu'] }, minRuntimeVersion: '0.0.1', golden: { inputName: 'x', dims: [1, WINDOW * 3], outputName: 'reconstruction', tolerance: '0.001' }, budgets: { latencyMs: 5000, errorRatePpm: 10_000, probationS: 0 } },
    });
    await tuf.repo.sign('targets', tuf.keys.priv.targets);
    await tuf.repo.publish(tuf.online());
    return path;
  }

  const pipelineYaml = (_id: string, i: number): string => `devices:
  - id: motor
    type: synthetic
    rateHz: ${RATE}
    samplesPerRecord: 10
    seed: ${i + 11}
    channels:
${channelsYaml(MACHINE_A)}
pipelines:
  - id: motor-watch
    source: motor
    stages:
      - type: anomaly
        detector: autoencoder
        alert: { raiseThreshold: 0.4, clearThreshold: 0.3, minDurationMs: 500, smoothingMs: 500, cooldownMs: 0 }
        autoencoder: { managed: ${MODEL}, windowSamples: ${WINDOW}, strideSamples: 8 }
`;

  async function release(api: FleetApi, gw: string): Promise<number | undefined> {
    const g = (await api(`/v1/gateways/${gw}`)) as { releases?: Record<string, { active?: { release: number } | null }> | null };
    return g.releases?.[MODEL]?.active?.release;
  }

  it('stops a candidate trained on the wrong machine at the canary, activated nowhere, and takes a good one to every gateway', async () => {
    const first = await publish(1, good1);
    const { data, api } = await startFleetAndGateways(rig, tuf, N, gateways, pipelineYaml);
    // Every gateway runs release 1 first (a rollout without shadow).
    const r1 = await createRollout(data, ['--target', first, '--wave', '100%']);
    await waitFor(async () => (await rolloutState(api, r1)) === 'completed', 'release 1 on every gateway', 90_000, 200);

    const bad = await publish(2, wrong);
    const r2 = await createRollout(data, ['--target', bad, '--wave', '1', '--wave', '100%', '--shadow', '30', '--shadow-max-s', '60']);
    await waitFor(async () => (await rolloutState(api, r2)) === 'paused', 'the bad release to stop at the canary', 120_000, 200).catch(async (err: unknown) => {
      // Say where it stands, and what the canary reported.
      const events = ((await api(`/v1/rollouts/${r2}`))['events'] as unknown[]).slice(-4);
      throw new Error(`${(err as Error).message}; last events ${JSON.stringify(events)}`);
    });
    const status = (await api(`/v1/rollouts/${r2}`)) as { rollout: { phase: string }; waves: { shadowed: number; active: number; pending: number }[]; events: { kind: string; detail: { phase?: string; gates?: { gate: string; pass: boolean; detail?: { agreement: { min: number } | null; inferences: number } }[] } }[] };
    expect(status.rollout.phase).toBe('shadow');
    expect(status.waves[0]).toMatchObject({ shadowed: 1, active: 0 });
    expect(status.waves[1]?.pending).toBe(N - 1);
    const failed = status.events.find((e) => e.kind === 'gate-failed');
    expect(failed?.detail.phase).toBe('shadow');
    const quality = failed?.detail.gates?.find((g) => g.gate === 'quality');
    expect(quality?.pass).toBe(false);
    expect(quality?.detail?.inferences).toBeGreaterThanOrEqual(15);
    expect(quality?.detail?.agreement?.min).toBeLessThan(0.9);
    const text = await runCli(['fleet', 'rollout', 'status', '--data', data, r2]);
    expect(text.stdout).toContain('gate failed: quality in shadow: 1 of 1 gateways');
    expect(text.stdout).toMatch(/alert agreement 0\.\d+ below 0\.9/);
    // Nobody runs release 2, and only the canary ever downloaded it.
    for (let i = 0; i < N; i += 1) expect(await release(api, `gw-${i}`)).toBe(1);
    let downloaded = 0;
    for (let i = 0; i < N; i += 1) {
      const g = (await api(`/v1/gateways/gw-${i}`)) as { updateSteps: { step: string; target: string; shadow?: unknown }[] };
      if (g.updateSteps.some((s) => s.target === bad && s.step === 'download')) downloaded += 1;
      if (g.updateSteps.some((s) => s.target === bad && s.step === 'shadow')) expect(g.updateSteps.find((s) => s.step === 'shadow')?.shadow).toMatchObject({ stages: 1, errors: 0 });
    }
    expect(downloaded).toBe(1);
    expect((await runCli(['fleet', 'rollout', 'abort', '--data', data, r2])).code).toBe(0);

    // Retrained on the right machine: it agrees with the active model, and goes everywhere.
    const good = await publish(3, good2);
    const r3 = await createRollout(data, ['--target', good, '--wave', '1', '--wave', '100%', '--shadow', '30', '--shadow-max-s', '60']);
    await waitFor(async () => ['completed', 'paused'].includes(await rolloutState(api, r3)), 'the good release to finish', 150_000, 200);
    const done = (await api(`/v1/rollouts/${r3}`)) as { rollout: { state: string }; events: { kind: string; detail: { gates?: { gate: string; detail?: unknown }[] } }[] };
    const passed = done.events.filter((e) => e.kind === 'shadow-passed').map((e) => e.detail.gates?.find((g) => g.gate === 'quality')?.detail);
    expect(done.rollout.state, JSON.stringify(done.events.filter((e) => e.kind === 'gate-failed'))).toBe('completed');
    expect(passed).toHaveLength(2);
    await waitFor(async () => (await Promise.all(Array.from({ length: N }, (_, i) => release(api, `gw-${i}`)))).every((r) => r === 3), 'release 3 active on every gateway', 30_000, 200);
  }, 400_000);

  it('judges a release that carries a labelled evaluation set on it: a better model that disagrees goes out, a worse one stops at the canary with both numbers', async () => {
    // The fleet's first model was trained on the wrong machine; every gateway runs it.
    const first = await publish(1, wrong);
    const { data, api } = await startFleetAndGateways(rig, tuf, N, gateways, pipelineYaml);
    const r1 = await createRollout(data, ['--target', first, '--wave', '100%']);
    await waitFor(async () => (await rolloutState(api, r1)) === 'completed', 'release 1 on every gateway', 90_000, 200);

    // The right model disagrees with it nearly everywhere, and is far better on the labelled set: it goes out.
    const set = evaluationSetA(40);
    const better = await publish(2, good1, set);
    const r2 = await createRollout(data, ['--target', better, '--wave', '1', '--wave', '100%', '--shadow', '30', '--shadow-max-s', '60']);
    await waitFor(async () => ['completed', 'paused'].includes(await rolloutState(api, r2)), 'the better release to finish', 150_000, 200);
    const done = (await api(`/v1/rollouts/${r2}`)) as { rollout: { state: string; evaluationSet: boolean }; events: { kind: string; detail: { gates?: { gate: string; detail?: { agreement: { min: number } | null; evaluation: { worstMargin: number; minCandidate: number; evaluated: number } | null } }[] } }[] };
    expect(done.rollout.state, JSON.stringify(done.events.filter((e) => e.kind === 'gate-failed'))).toBe('completed');
    expect(done.rollout.evaluationSet).toBe(true);
    const passed = done.events.filter((e) => e.kind === 'shadow-passed').map((e) => e.detail.gates?.find((g) => g.gate === 'quality')?.detail);
    expect(passed).toHaveLength(2);
    // Judged on agreement it would have stopped; on the labelled set it is clearly better.
    expect(passed[0]?.agreement?.min).toBeLessThan(0.9);
    expect(passed[0]?.evaluation?.worstMargin).toBeGreaterThan(0.3);
    expect(passed[0]?.evaluation?.minCandidate).toBeGreaterThan(0.9);
    await waitFor(async () => (await Promise.all(Array.from({ length: N }, (_, i) => release(api, `gw-${i}`)))).every((r) => r === 2), 'release 2 active on every gateway', 30_000, 200);

    // The wrong machine's model again, as release 3: worse on the set, it stops at the canary.
    const worse = await publish(3, wrong, set);
    const r3 = await createRollout(data, ['--target', worse, '--wave', '1', '--wave', '100%', '--shadow', '30', '--shadow-max-s', '60']);
    await waitFor(async () => (await rolloutState(api, r3)) === 'paused', 'the worse release to stop at the canary', 120_000, 200);
    const status = (await api(`/v1/rollouts/${r3}`)) as { events: { kind: string; detail: { gates?: { gate: string; pass: boolean; detail?: { failing: { why: string[] }[]; evaluation: { worstMargin: number } | null } }[] } }[] };
    const quality = status.events.find((e) => e.kind === 'gate-failed')?.detail.gates?.find((g) => g.gate === 'quality');
    expect(quality?.pass).toBe(false);
    expect(quality?.detail?.evaluation?.worstMargin).toBeLessThan(-0.3);
    expect(quality?.detail?.failing[0]?.why.join(' ')).toMatch(/ROC AUC on the labelled set 0\.\d+, below the active model's (0\.9\d+|1\.000) \(180 windows\)/);
    const text = await runCli(['fleet', 'rollout', 'status', '--data', data, r3]);
    expect(text.stdout).toMatch(/ROC AUC on the labelled set/);
    for (let i = 0; i < N; i += 1) expect(await release(api, `gw-${i}`)).toBe(2);
  }, 400_000);
});
