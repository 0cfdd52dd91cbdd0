import { createServer } from 'node:http';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { runModelRelease } from '../../cli/model-release.js';
import { decodeEvaluationSet } from '../../fleet/protocol/evaluation-set.js';
import { decodeUpdateReport, fleetFilters, type UpdateReportMessage } from '../../fleet/protocol/index.js';
import { listReleases } from '../../fleet/repo/releases.js';
import { repoPublish, repoSign } from '../../fleet/repo/repo-command.js';
import { serveRepository } from '../../fleet/repo/serve.js';
import { parseConfig } from '../../runtime/config/load.js';
import { Gateway } from '../../runtime/gateway.js';
import { builtinRegistry } from '../../runtime/plugins.js';
import { useGatewayRig } from '../support/gateway-rig.js';
import { listenOnLoopback } from '../support/ports.js';
import { waitFor } from '../support/wait-for.js';
import { captured, conveyorDataset, motorAutoencoderDir, operatorRepo, runConveyorGateway, widgetModelDir } from './model-release-fixtures.js';

describe('edgewise model release: a trained model to a gateway through TUF', () => {
  const rig = useGatewayRig();
  const servers: import('node:http').Server[] = [];
  afterEach(async () => {
    for (const s of servers.splice(0)) await new Promise<void>((resolve) => s.close(() => resolve()));
  });

  /** The operator's next commands, as the release printed them. */
  async function signAndPublish(repo: string, key: (role: 'root' | 'targets' | 'snapshot' | 'timestamp') => Promise<string>): Promise<void> {
    const quiet = async (f: () => Promise<number>): Promise<void> => expect((await captured(f)).value).toBe(0);
    await quiet(async () => repoSign({ repo, role: 'root', key: [await key('root')] }));
    await quiet(async () => repoSign({ repo, role: 'targets', key: [await key('targets')] }));
    await quiet(async () => repoPublish({ repo, snapshotKey: [await key('snapshot')], timestampKey: [await key('timestamp')] }));
  }

  /** The repository over HTTP on loopback, as `repo serve` serves it; returns its URL. */
  async function serve(repo: string): Promise<string> {
    const server = createServer((req, res) => serveRepository(repo).emit('request', req, res));
    servers.push(server);
    return `http://127.0.0.1:${await listenOnLoopback(server)}`;
  }

  it('stages a release with a golden run, budget and evaluation set from the val split; signed and published, a gateway verifies, installs and runs it, and its events carry the dataset\'s class name', async () => {
    const d = rig.dir.path;
    await widgetModelDir(`${d}/model`);
    const { repo, key } = await operatorRepo(`${d}/fleet`);
    const dataset = conveyorDataset(12);

    const released = await captured(() => runModelRelease({ model: `${d}/model`, repo, modelName: 'widgets', data: '/plant/widgets', readData: async () => dataset }));
    expect(released.value, released.stderr).toBe(0);
    expect(released.stdout).toContain('staged models/widgets/1/model.onnx (evaluation set: 12 frames');
    expect(released.stdout).toContain('golden run: images/val/5000.png;');
    expect(released.stdout).toMatch(/edgewise repo sign --repo .* --role targets/);
    expect(released.stdout).toContain('edgewise fleet rollout create --data <fleet data dir> --target models/widgets/1/model.onnx');
    const summary = JSON.parse(released.stdout.trim().split('\n').at(-1) as string) as { counter: number; version: string; latency_ms: { p99: number; first: number; budget: number }; tolerance: string };
    expect(summary).toMatchObject({ counter: 1, version: 'r1 2026-11-30' });
    expect(summary.latency_ms.budget).toBeGreaterThanOrEqual(8 * Math.max(summary.latency_ms.p99, summary.latency_ms.first));

    await signAndPublish(repo, key);
    const [info] = await listReleases(repo);
    expect(info).toMatchObject({ model: 'widgets', release: 1, version: 'r1 2026-11-30', hardware: { arch: ['x64', 'arm64'], accelerators: ['cpu'] }, golden: { inputName: 'images', dims: [1, 1, 192, 320], outputName: 'output0', tolerance: summary.tolerance }, budgets: { latencyMs: summary.latency_ms.budget } });
    // The evaluation set a rollout's quality gate scores: the val split's frames, their boxes in pixels, the dataset's class names.
    expect(info?.evaluationSet).toBe('models/widgets/1/evaluation.cbor');
    const { readdir, readFile } = await import('node:fs/promises');
    const setFile = (await readdir(`${repo}/targets/models/widgets/1`)).find((n) => n.endsWith('.evaluation.cbor')) as string;
    const set = decodeEvaluationSet(await readFile(`${repo}/targets/models/widgets/1/${setFile}`));
    expect(set.kind).toBe('vision-frames');
    if (set.kind === 'vision-frames') {
      expect(set.set.classNames).toEqual(['widget']);
      expect(set.set.frames).toHaveLength(12);
      const truth = (await dataset.val[0]?.load()) as { width: number };
      expect(set.set.frames[0]?.width).toBe(truth.width);
      expect(set.set.frames.reduce((n, f) => n + f.boxes.length, 0)).toBe(dataset.val.reduce((n, s) => n + s.boxes.length, 0));
    }

    // The repository served over HTTP, and a gateway that pins its root and keeps `widgets` up to date.
    const { reports, entered, events } = await runConveyorGateway(rig, { url: await serve(repo), repo, modelName: 'widgets', stage: { type: 'vision', model: { managed: 'widgets' }, mean: [0], std: [1], confidence: 0.25 } });
    expect(reports.filter((r) => r.release === 1).map((r) => `${r.step}:${r.outcome}`)).toEqual(['check:ok', 'download:ok', 'install:ok', 'health:ok', 'activate:ok']);
    expect(entered.data).toMatchObject({ className: 'widget', model: { name: 'widgets', version: 'r1 2026-11-30' } });
    expect(events.every((e) => (e.data as { className?: string }).className === undefined || (e.data as { className: string }).className === 'widget')).toBe(true);
  }, 150_000);
  it('releases an anomaly autoencoder whose golden window passes the health check of a gateway that then runs it on its sensors', async () => {
    const d = rig.dir.path;
    const { log } = await motorAutoencoderDir(`${d}/model`);
    const { repo, key } = await operatorRepo(`${d}/fleet`);
    const released = await captured(() => runModelRelease({ model: `${d}/model`, repo, modelName: 'motor-ae', data: 'motor.csv', readData: async () => [log] }));
    expect(released.value, released.stderr).toBe(0);
    await signAndPublish(repo, key);
    const url = await serve(repo);
    const reports: UpdateReportMessage[] = [];
    await rig.broker.subscribe(fleetFilters.updateReport, (_topic, payload) => reports.push(decodeUpdateReport(payload)));
    const yaml = `
gateway: { id: gw-motor, dataDir: ${JSON.stringify(`${d}/gw`)}, shutdownTimeoutMs: 5000 }
devices:
  - { id: motor, type: synthetic, rateHz: 50, channels: [{ name: current, offset: 5 }, { name: vibration, offset: 0 }] }
pipelines:
  - id: motor
    source: motor
    stages:
      - { type: anomaly, detector: autoencoder, autoencoder: { managed: motor-ae, windowSamples: 8, strideSamples: 8 } }
uplink: { url: ${rig.broker.url}, connectTimeoutMs: 2000, reconnect: { minDelayMs: 100, maxDelayMs: 1000 } }
updates:
  metadataUrl: ${url}/metadata
  targetBaseUrl: ${url}/targets
  rootFile: ${JSON.stringify(`${repo}/metadata/1.root.json`)}
  models: [motor-ae]
log: { level: warn }
`;
    const registry = builtinRegistry();
    const gw = await Gateway.create(parseConfig(yaml, 'test', registry), registry, { logger: pino({ level: 'silent' }) });
    rig.gateway = gw;
    await gw.start();
    await waitFor(() => reports.some((r) => r.step === 'activate' && r.release === 1), 'release 1 of motor-ae activated', 60_000).catch((err: Error) => {
      throw new Error(`${err.message}; the gateway reported ${JSON.stringify(reports)}`);
    });
    expect(reports.filter((r) => r.release === 1).map((r) => `${r.step}:${r.outcome}`)).toEqual(['check:ok', 'download:ok', 'install:ok', 'health:ok', 'activate:ok']);
    // The report goes out as the switch is made; the gateway's health says so once it is done.
    const active = await waitFor(() => gw.health().releases?.['motor-ae']?.active, 'release 1 active in the gateway\'s health', 10_000);
    expect(active).toMatchObject({ release: 1, version: 'r1 2026-11-30' });
    // The stage runs the release: it leaves the degraded state it waits in until one is active.
    await waitFor(() => gw.health().pipelines[0]?.stages[0]?.details?.['degraded'] === false, 'the anomaly stage running motor-ae', 30_000);
  }, 120_000);
});
