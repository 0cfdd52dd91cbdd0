import { readFile, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ensureDelegatedKey, federatedRole } from '../../../fleet/repo/delegated-key.js';
import { modelPathPattern } from '../../../fleet/repo/delegation.js';
import { trainAutoencoderModel } from '../../../models/anomaly/autoencoder/model.js';
import { readModelMetadata } from '../../../models/onnx/builder.js';
import { pino } from 'pino';
import { parse, stringify } from 'yaml';
import { parseConfig } from '../../../runtime/config/load.js';
import { Gateway } from '../../../runtime/gateway.js';
import { builtinRegistry } from '../../../runtime/plugins.js';
import { runCli } from '../../support/gateway-process.js';
import { useFleetTestRig } from '../../support/fleet-test-rig.js';
import { TufRig } from '../../support/tuf-rig.js';
import { MOTOR_CHANNELS, MOTOR_RATE_HZ, MOTOR_WINDOW, motorSamples } from '../../support/motor-machine.js';
import { waitFor } from '../../support/wait-for.js';
import { createRollout, rolloutState, startFleetAndGateways } from '../rollouts/e2e-rig.js';

const RATE = MOTOR_RATE_HZ;
const W = MOTOR_WINDOW;
const CHANNELS = MOTOR_CHANNELS;
const MODEL = 'motor-ae';
const TASK = 'motor-fl';
const SECURE_TASK = 'motor-fl-secure';
const N = 3;

/** Release 1: the machine type's autoencoder, trained briefly on another unit's data (the fleet's starting point). */
async function firstModel(): Promise<Uint8Array> {
  const rows = 30 * RATE;
  const x = motorSamples(rows, 99);
  return (await trainAutoencoderModel(x, rows, { channels: CHANNELS.map((c) => c.name), windowSamples: W, stride: 16, hidden: [32, 8, 32], epochs: 2, batchSize: 64, learningRate: 0.003, seed: 3, heldOut: 0.2 })).bytes;
}

/**
 * Issue 14 from end to end with real parts: a fleet process (embedded broker, PGlite) with its
 * TUF repository and online keys, and gateways running in this process with a synthetic motor,
 * the anomaly stage on the managed autoencoder and learning on. The gateways get release 1 by a
 * rollout; a federated task runs a round over MQTT (each gateway trains on its own normal
 * windows, sends a chunked int8 update); the fleet aggregates, signs the new global model as the
 * task's delegated role, and rolls it out with the task's plan; every gateway verifies it
 * through TUF (golden run included) and runs it. Then a secure-aggregation round of the same
 * gateways over MQTT: each trains on its windows and sends its delta masked; the fleet unmasks
 * only the sum (PROTOCOL.md "Secure aggregation").
 */
describe('federated learning end to end', () => {
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

  it('trains a round on the gateways, releases the global model as the task\'s role and rolls it out to every gateway', async () => {
    // Release 1, with a golden run the gateways repeat before installing it.
    const bytes = await firstModel();
    const d = join(rig.dir.path, 'in');
    await mkdir(d, { recursive: true });
    const golden = Float32Array.from({ length: W * 3 }, (_, i) => Math.sin(i));
    const session = await ort.InferenceSession.create(bytes);
    const out = (await session.run({ x: new ort.Tensor('float32', golden, [1, W * 3]) }))['reconstruction']?.data as Float32Array;
    await session.release();
    await writeFile(`${d}/m1.onnx`, bytes);
    await writeFile(`${d}/gi.bin`, new Uint8Array(golden.buffer));
    await writeFile(`${d}/go.bin`, new Uint8Array(Float32Array.from(out).buffer));
    const release = { hardware: { arch: ['x64', 'arm64'] as ('x64' | 'arm64')[], accelerators: ['cpu'] }, minRuntimeVersion: '0.0.1', golden: { inputName: 'x', dims: [1, W * 3], outputName: 'reconstruction', tolerance: '0.0001' }, budgets: { latencyMs: 5000, errorRatePpm: 10_000, probationS: 0 } };
    const first = await tuf.repo.addModel({ model: `${d}/m1.onnx`, goldenInput: `${d}/gi.bin`, goldenOutput: `${d}/go.bin`, release: { ...release, model: MODEL, release: 1, version: 'initial' } });
    // The operator delegates the model's releases to the task's role, with the online key the fleet keeps.
    const data = join(rig.dir.path, 'fleet');
    const key = await ensureDelegatedKey(join(data, 'federated', TASK), federatedRole(TASK));
    await tuf.repo.delegate({ role: key.role, keys: [key.publicKey], paths: [modelPathPattern(MODEL)] });
    await tuf.repo.sign('targets', tuf.keys.priv.targets);
    await tuf.repo.publish(tuf.online());

    const device = (i: number): string => `devices:
  - id: motor
    type: synthetic
    rateHz: ${RATE}
    samplesPerRecord: 50
    seed: ${i + 1}
    channels: ${JSON.stringify(CHANNELS)}
pipelines:
  - id: motor
    source: motor
    stages:
      - type: anomaly
        detector: autoencoder
        autoencoder: { managed: ${MODEL}, windowSamples: ${W}, strideSamples: 8 }
learning: { enabled: true, reservoirWindows: 512 }
`;
    const { data: fleetData, api } = await startFleetAndGateways(rig, tuf, N, gateways, (_id, i) => device(i), { fleetArgs: ['--repo-online-keys', `${tuf.dir}/keys`] });
    expect(fleetData).toBe(data);
    const r1 = await createRollout(data, ['--target', first, '--wave', '100%']);
    await waitFor(async () => (await rolloutState(api, r1)) === 'completed', 'release 1 on every gateway', 90_000, 200);
    const windows = (g: Gateway): number => ((g.health().pipelines[0]?.stages[0]?.details ?? {}) as Record<string, number>)['learningWindows'] ?? 0;
    await waitFor(() => gateways.every((g) => windows(g) >= 200), 'each gateway keeping 200 normal windows', 90_000, 200);

    const token = (await readFile(join(data, 'operator-token'), 'utf8')).trim();
    const endpoints = JSON.parse(await readFile(join(data, 'fleet.json'), 'utf8')) as { localApiUrl: string };
    const created = await fetch(`${endpoints.localApiUrl}/v1/learning/tasks`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        task: { id: TASK, model: MODEL, gatewaySelector: {}, strategy: { type: 'fedavg' }, localEpochs: 5, learningRate: 0.003, clipNorm: 100, minClients: N, samplingShare: 1, deadlineMs: 120_000 },
        rounds: 1,
        rollout: { selector: { kind: 'all' }, waves: [{ kind: 'share', share: 1 }] },
      }),
    });
    expect(created.status, await created.clone().text()).toBe(201);

    const round = await waitFor(async () => {
      const r = await api(`/v1/learning/tasks/${TASK}/rounds/1`);
      return r['outcome'] === 'model' || r['outcome'] === 'no-model' ? r : undefined;
    }, 'round 1 closed', 120_000, 200);
    expect(round, JSON.stringify(round)).toMatchObject({ outcome: 'model', participants: N, releaseError: null, released: { name: MODEL, release: 2 } });
    const record = round['record'] as { participants: string[]; validationLoss: { reported: number; mean: number } };
    expect([...record.participants].sort()).toEqual(['gw-0', 'gw-1', 'gw-2']);
    expect(record.validationLoss.reported).toBe(N);
    expect(record.validationLoss.mean).toBeGreaterThan(0);
    const releases = (await api(`/v1/releases?model=${MODEL}`))['items'] as { release: number; signedBy: string }[];
    expect(releases[0]).toMatchObject({ release: 2, signedBy: 'federated-motor-fl' });
    // Its score calibration is the gateways' pooled held-out moments, measured under release 1.
    const r2 = (releases[0] as unknown as { sha256: string });
    const calibration = JSON.parse(readModelMetadata(await readFile(join(tuf.dir, 'repo', 'targets', 'models', MODEL, '2', `${r2.sha256}.model.onnx`)))['federated.calibration'] ?? 'null') as { windows: number; logMean: number; logStd: number; measuredOnRelease: number } | null;
    expect(calibration).toMatchObject({ measuredOnRelease: 1 });
    expect(calibration?.windows).toBeGreaterThan(N * 20);
    expect(Number.isFinite(calibration?.logMean) && (calibration?.logStd ?? 0) > 0).toBe(true);

    // The task's rollout takes release 2 to every gateway, each verifying it through TUF and its golden run.
    const rollout = await waitFor(async () => ((await api('/v1/rollouts'))['items'] as { id: string; name: string }[]).find((x) => x.name === `learning ${TASK} round 1`), 'the rollout of round 1\'s model', 30_000, 200);
    await waitFor(async () => (await rolloutState(api, rollout.id)) === 'completed', 'release 2 on every gateway', 120_000, 200);
    for (const g of gateways) expect(g.health().releases?.[MODEL]?.active?.release).toBe(2);
    for (const g of gateways) expect(g.learning?.stats()).toMatchObject({ roundsJoined: 1, updatesSent: 1 });

    // A secure round on release 2: each gateway trains as before but sends its delta masked, quantised with the
    // announced shared scale; the fleet unmasks only the sum of the three and makes their mean the new model.
    // (Its release is refused: the operator delegated the model to the first task's role only.)
    const secure = await fetch(`${endpoints.localApiUrl}/v1/learning/tasks`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        task: { id: SECURE_TASK, model: MODEL, gatewaySelector: {}, strategy: { type: 'fedavg' }, localEpochs: 5, learningRate: 0.003, clipNorm: 1, minClients: N, samplingShare: 1, deadlineMs: 120_000, secureAggregation: true },
        rounds: 1,
      }),
    });
    expect(secure.status, await secure.clone().text()).toBe(201);
    const secureRound = await waitFor(async () => {
      const r = await api(`/v1/learning/tasks/${SECURE_TASK}/rounds/1`);
      return r['outcome'] === 'model' || r['outcome'] === 'no-model' ? r : undefined;
    }, 'secure round 1 closed', 120_000, 200);
    expect(secureRound, JSON.stringify(secureRound)).toMatchObject({
      outcome: 'model',
      participants: N,
      released: null,
      releaseError: expect.stringMatching(/federated-motor-fl-secure is not a delegated role/),
      record: { closedBy: 'all-answered', validationLoss: { reported: 0 }, secureAggregation: { advertised: N, dealt: N, masked: N, responded: N, dropped: [], threshold: N, weighting: 'mean-over-survivors', refusals: {} } },
    });
    for (const g of gateways) expect(g.learning?.stats()).toMatchObject({ roundsJoined: 2, updatesSent: 2, failures: {} });

    // A gateway provisioned after the round starts from the fleet's model on day one: its own
    // update check finds release 2, which only the delegated role lists, by asking TUF for it.
    const id = 'gw-new';
    const p = await runCli(['fleet', 'provision', '--data', data, '--id', id, '--out', join(rig.dir.path, id), '--gateway-config-dir', join(rig.dir.path, id)]);
    expect(p.code, p.stderr).toBe(0);
    // The provisioned sections, with the model its update check looks for.
    const section = parse(await readFile(join(rig.dir.path, id, 'gateway.yaml'), 'utf8')) as { updates: Record<string, unknown> };
    section.updates['models'] = [MODEL];
    const registry = builtinRegistry();
    const yaml = `gateway: { id: ${id}, dataDir: ${JSON.stringify(join(rig.dir.path, id, 'data'))} }\nlog: { level: warn }\n${device(N)}${stringify(section)}`;
    const late = await Gateway.create(parseConfig(yaml, `${id}.yaml`, registry), registry, { logger: pino({ level: 'silent' }) });
    gateways.push(late);
    await late.start();
    await waitFor(() => late.health().releases?.[MODEL]?.active?.release === 2, 'the new gateway running release 2', 60_000, 200);
  }, 420_000);
});
