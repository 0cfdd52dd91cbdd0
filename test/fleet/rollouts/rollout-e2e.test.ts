import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildModel } from '../../../models/onnx/builder.js';
import type { Gateway } from '../../../runtime/gateway.js';
import { useFleetTestRig } from '../../support/fleet-test-rig.js';
import { runCli } from '../../support/gateway-process.js';
import { TufRig } from '../../support/tuf-rig.js';
import { waitFor } from '../../support/wait-for.js';
import { startFleetAndGateways } from './e2e-rig.js';

const GOLDEN = Float32Array.of(1, 2, 3, 4);
const N = 8;

/**
 * The whole path with real parts: a fleet process (embedded broker, PGlite), a real TUF
 * repository, and gateways running the real updater in this process, each with its own
 * credentials. A rollout made with the CLI goes out in waves to 100%.
 */
describe('rollouts end to end', () => {
  const rig = useFleetTestRig();
  let tuf: TufRig;
  const gateways: Gateway[] = [];

  beforeEach(async () => {
    tuf = new TufRig(join(rig.dir.path, 'tuf'));
    await tuf.start();
  });
  afterEach(async () => {
    for (const g of gateways.splice(0)) await g.stop().catch(() => undefined);
    await tuf.stop();
  });

  /** A release of model `press`: output = input x n; `broken` signs a golden output it will not give. */
  async function publish(n: number, broken = false): Promise<string> {
    const d = join(rig.dir.path, 'in');
    await mkdir(d, { recursive: true });
    await writeFile(`${d}/m${n}.onnx`, buildModel({ name: 's', inputs: [{ name: 'x', dims: [1, 4] }], outputs: [{ name: 'y', dims: [1, 4] }], initializers: [{ name: 'f', dims: [1], data: [n] }], nodes: [{ op: 'Mul', inputs: ['x', 'f'], outputs: ['y'] }] }));
    await writeFile(`${d}/gi${n}.bin`, new Uint8Array(GOLDEN.buffer));
    await writeFile(`${d}/go${n}.bin`, new Uint8Array(GOLDEN.map((v) => v * (broken ? n + 1 : n)).buffer));
    const path = await tuf.repo.addModel({ model: `${d}/m${n}.onnx`, goldenInput: `${d}/gi${n}.bin`, goldenOutput: `${d}/go${n}.bin`, release: { model: 'press', release: n, version: `1.${n}`, hardware: { arch: ['x64', 'arm64'], accelerators: ['cpu'] }, minRuntimeVersion: '0.0.1', golden: { inputName: 'x', dims: [1, 4], outputName: 'y', tolerance: '0.0001' }, budgets: { latencyMs: 5000, errorRatePpm: 10_000, probationS: 0 } } });
    await tuf.repo.sign('targets', tuf.keys.priv.targets);
    await tuf.repo.publish(tuf.online());
    return path;
  }

  it('takes a release to 100% in three waves; every gateway reports it active', async () => {
    const target = await publish(2);
    const { data, api } = await startFleetAndGateways(rig, tuf, N, gateways);
    const r = await runCli(['fleet', 'rollout', 'create', '--data', data, '--target', target, '--wave', '1', '--wave', '50%', '--wave', '100%', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const id = (JSON.parse(r.stdout) as { rollout: { id: string } }).rollout.id;
    await waitFor(async () => ((await api(`/v1/rollouts/${id}`))['rollout'] as { state: string }).state === 'completed', 'the rollout to complete', 90_000, 200);
    const status = await runCli(['fleet', 'rollout', 'status', '--data', data, id]);
    expect(status.stdout).toContain('completed');
    expect(status.stdout).toMatch(/wave 3: \d+ gateways: \d+ active, 0 failed/);
    await waitFor(
      async () => {
        const items = (await api('/v1/gateways?model=press&release=2'))['items'] as unknown[];
        return items.length === N;
      },
      'every gateway reporting release 2 active in its health',
      20_000,
      200,
    );
    for (const g of gateways) expect(g.health().releases?.['press']?.active?.release).toBe(2);
  }, 180_000);

  it('stops after the canary when the release fails its health check; the other gateways never download it', async () => {
    const target = await publish(3, true);
    const { data, api } = await startFleetAndGateways(rig, tuf, N, gateways);
    const r = await runCli(['fleet', 'rollout', 'create', '--data', data, '--target', target, '--wave', '2', '--wave', '100%', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const id = (JSON.parse(r.stdout) as { rollout: { id: string } }).rollout.id;
    await waitFor(async () => ((await api(`/v1/rollouts/${id}`))['rollout'] as { state: string }).state === 'paused', 'the rollout to stop at the canary', 90_000, 200);
    const status = (await api(`/v1/rollouts/${id}`)) as { waves: { failed: number; pending: number }[]; events: { kind: string; detail: { gates?: { gate: string; pass: boolean }[] } }[] };
    expect(status.waves[0]?.failed).toBe(2);
    expect(status.waves[1]?.pending).toBe(N - 2);
    expect(status.events.find((e) => e.kind === 'gate-failed')?.detail.gates?.find((g) => g.gate === 'failure')?.pass).toBe(false);
    const text = await runCli(['fleet', 'rollout', 'status', '--data', data, id]);
    expect(text.stdout).toContain('gate failed: failure 2 (100.0%) above the limit of 0.0%');
    // Only the canary ever asked for the release.
    const downloaded = [];
    for (let i = 0; i < N; i += 1) {
      const g = (await api(`/v1/gateways/gw-${i}`)) as { updateSteps: { step: string; target: string }[] };
      if (g.updateSteps.some((s) => s.target === target && s.step === 'download')) downloaded.push(i);
    }
    expect(downloaded).toHaveLength(2);
  }, 180_000);
});
