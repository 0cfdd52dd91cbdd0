import { createHash } from 'node:crypto';
import { mkdir, readFile, truncate, writeFile } from 'node:fs/promises';
import mqtt from 'mqtt';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { decodeHealth, decodeUpdateReport, encodeReleaseNotice, fleetFilters, gatewayTopics, type HealthMessage, type UpdateReportMessage } from '../../../fleet/protocol/index.js';
import { buildModel } from '../../../models/onnx/builder.js';
import { parseConfig } from '../../../runtime/config/load.js';
import { Gateway } from '../../../runtime/gateway.js';
import { builtinRegistry } from '../../../runtime/plugins.js';
import { useGatewayRig } from '../../support/gateway-rig.js';
import { TufRig } from '../../support/tuf-rig.js';
import { waitFor } from '../../support/wait-for.js';

const GOLDEN = Float32Array.of(1, 2, 3, 4);

describe('signed model updates in a running gateway', () => {
  const rig = useGatewayRig();
  let tuf: TufRig;

  beforeEach(async () => {
    tuf = new TufRig(`${rig.dir.path}/fleet`);
    await tuf.start();
  });
  afterEach(async () => {
    await tuf.stop();
  });

  /** A gateway in this process that keeps model press up to date from the rig's repository. */
  async function startGateway(id: string, extra = ''): Promise<Gateway> {
    const registry = builtinRegistry();
    const yaml = `
gateway: { id: ${id}, dataDir: ${JSON.stringify(`${rig.dir.path}/gw`)} }
uplink: { url: ${rig.broker.url}, connectTimeoutMs: 2000, reconnect: { minDelayMs: 100, maxDelayMs: 1000 } }
${extra}
updates:
  metadataUrl: ${tuf.url}/metadata
  targetBaseUrl: ${tuf.url}/targets
  rootFile: ${JSON.stringify(`${tuf.dir}/repo/metadata/1.root.json`)}
  models: [press]
log: { level: warn }
`;
    const gw = await Gateway.create(parseConfig(yaml, 'test', registry), registry, { logger: pino({ level: 'silent' }) });
    rig.gateway = gw;
    await gw.start();
    return gw;
  }

  async function publishRelease(n: number): Promise<string> {
    const d = `${rig.dir.path}/in`;
    await mkdir(d, { recursive: true });
    await writeFile(`${d}/m${n}.onnx`, buildModel({ name: 's', inputs: [{ name: 'x', dims: [1, 4] }], outputs: [{ name: 'y', dims: [1, 4] }], initializers: [{ name: 'f', dims: [1], data: [n] }], nodes: [{ op: 'Mul', inputs: ['x', 'f'], outputs: ['y'] }] }));
    await writeFile(`${d}/gi${n}.bin`, new Uint8Array(GOLDEN.buffer));
    await writeFile(`${d}/go${n}.bin`, new Uint8Array(GOLDEN.map((v) => v * n).buffer));
    const path = await tuf.repo.addModel({ model: `${d}/m${n}.onnx`, goldenInput: `${d}/gi${n}.bin`, goldenOutput: `${d}/go${n}.bin`, release: { model: 'press', release: n, version: `1.${n}`, hardware: { arch: ['x64', 'arm64'], accelerators: ['cpu'] }, minRuntimeVersion: '0.0.1', golden: { inputName: 'x', dims: [1, 4], outputName: 'y', tolerance: '0.0001' }, budgets: { latencyMs: 5000, errorRatePpm: 10_000, probationS: 0 } } });
    await tuf.repo.sign('targets', tuf.keys.priv.targets);
    await tuf.repo.publish(tuf.online());
    return path;
  }

  it('installs the newest signed release at start, the next one on a release notice, reports every step, and survives a bad notice', async () => {
    await publishRelease(1);
    const reports: UpdateReportMessage[] = [];
    const unsubscribe = await rig.broker.subscribe(fleetFilters.updateReport, (_topic, payload) => reports.push(decodeUpdateReport(payload)));
    const gw = await startGateway('gw-upd');
    await waitFor(() => reports.some((r) => r.step === 'activate' && r.release === 1), 'release 1 active and reported', 30_000);
    expect(reports.filter((r) => r.release === 1 || r.step === 'refresh').map((r) => `${r.step}:${r.outcome}`)).toEqual(['refresh:ok', 'check:ok', 'download:ok', 'install:ok', 'health:ok', 'activate:ok']);
    expect(reports.every((r) => r.gw === 'gw-upd')).toBe(true);

    const target2 = await publishRelease(2);
    const fleet = await mqtt.connectAsync(rig.broker.url, { protocolVersion: 4 });
    try {
      await fleet.publishAsync(gatewayTopics.releaseNotice('gw-upd'), Buffer.from('{"target": 42}'), { qos: 1 }); // garbage: ignored
      await fleet.publishAsync(gatewayTopics.releaseNotice('gw-upd'), Buffer.from(encodeReleaseNotice({ target: target2 })), { qos: 1 });
      await waitFor(() => reports.some((r) => r.step === 'activate' && r.release === 2), 'release 2 active and reported', 30_000);
    } finally {
      await fleet.endAsync();
    }
    expect(gw.health().updates).toMatchObject({ updates: 2, refusals: 0 }); // still serving, and says so
    await unsubscribe();
  }, 60_000);

  it('reports the installed release as active in its health, and after the next release the previous one as standby', async () => {
    await publishRelease(1);
    const sha256 = async (n: number): Promise<string> => createHash('sha256').update(await readFile(`${rig.dir.path}/in/m${n}.onnx`)).digest('hex');
    const health: HealthMessage[] = [];
    await rig.broker.subscribe(gatewayTopics.health('gw-rel'), (_topic, payload) => health.push(decodeHealth(payload)));
    const gw = await startGateway('gw-rel', 'health: { intervalMs: 1000 }');
    // Configured, nothing installed yet: the model is listed with neither release.
    expect(gw.health().releases).toEqual({ press: { active: null, standby: null } });

    const first = await waitFor(() => health.find((h) => h.releases?.['press']?.active?.release === 1), 'a published health report naming release 1 as active', 30_000);
    expect(first.releases).toEqual({ press: { active: { release: 1, version: '1.1', sha256: await sha256(1) }, standby: null } });

    const target2 = await publishRelease(2);
    const fleet = await mqtt.connectAsync(rig.broker.url, { protocolVersion: 4 });
    try {
      await fleet.publishAsync(gatewayTopics.releaseNotice('gw-rel'), Buffer.from(encodeReleaseNotice({ target: target2 })), { qos: 1 });
    } finally {
      await fleet.endAsync();
    }
    const second = await waitFor(() => health.find((h) => h.releases?.['press']?.active?.release === 2), 'a published health report naming release 2 as active', 30_000);
    expect(second.releases).toEqual({
      press: { active: { release: 2, version: '1.2', sha256: await sha256(2) }, standby: { release: 1, version: '1.1', sha256: await sha256(1) } },
    });
    expect(gw.health().releases).toEqual(second.releases);

    // The fleet stopped the rollout of release 2: a rollback notice switches the gateway back, and its health says so.
    const reports: UpdateReportMessage[] = [];
    await rig.broker.subscribe(gatewayTopics.updateReport('gw-rel'), (_topic, payload) => reports.push(decodeUpdateReport(payload)));
    const seen = health.length;
    const fleet2 = await mqtt.connectAsync(rig.broker.url, { protocolVersion: 4 });
    try {
      await fleet2.publishAsync(gatewayTopics.releaseNotice('gw-rel'), Buffer.from(encodeReleaseNotice({ target: target2, rollback: true })), { qos: 1 });
    } finally {
      await fleet2.endAsync();
    }
    const back = await waitFor(() => health.slice(seen).find((h) => h.releases?.['press']?.active?.release === 1), 'a health report naming release 1 active again', 30_000);
    expect(back.releases?.['press']?.standby).toBeNull();
    expect(back.releases?.['press']?.active?.sha256).toBe(await sha256(1));
    expect(reports.find((r) => r.step === 'rollback')).toMatchObject({ outcome: 'ok', target: target2, release: 1 });
  }, 60_000);

  it('reports a shadow run cut short by the gateway stopping as failed, not as a summary of fewer runs', async () => {
    await publishRelease(1);
    const reports: UpdateReportMessage[] = [];
    await rig.broker.subscribe(gatewayTopics.updateReport('gw-shadow'), (_topic, payload) => reports.push(decodeUpdateReport(payload)));
    // A stage that runs model press (its shadows reach it), on a line too quiet to give it anything to compare.
    const gw = await startGateway(
      'gw-shadow',
      `devices:
  - { id: line, type: synthetic, rateHz: 1, channels: [{ name: v, offset: 1 }] }
pipelines:
  - id: watch
    source: line
    stages:
      - { type: anomaly, detector: autoencoder, autoencoder: { managed: press, windowSamples: 4, strideSamples: 2 } }`,
    );
    await waitFor(() => reports.some((r) => r.step === 'activate' && r.release === 1), 'release 1 active', 30_000);
    const target2 = await publishRelease(2);
    const fleet = await mqtt.connectAsync(rig.broker.url, { protocolVersion: 4 });
    try {
      await fleet.publishAsync(gatewayTopics.releaseNotice('gw-shadow'), Buffer.from(encodeReleaseNotice({ target: target2, shadow: { inferences: 50, maxMs: 600_000 } })), { qos: 1 });
    } finally {
      await fleet.endAsync();
    }
    await waitFor(() => reports.some((r) => r.target === target2 && r.step === 'health' && r.outcome === 'ok'), 'the candidate health-checked and shadowing', 30_000);
    await gw.stop();
    rig.gateway = undefined;
    const shadow = await waitFor(() => reports.find((r) => r.target === target2 && r.step === 'shadow'), 'the shadow step reported', 10_000);
    expect(shadow).toMatchObject({ outcome: 'failed', reason: expect.stringContaining('E_UPDATE_SHADOW_INTERRUPTED') as unknown });
    expect(shadow.shadow).toBeUndefined();
  }, 60_000);

  it('still refreshes and installs after its trusted metadata was torn, emptied and garbled between runs', async () => {
    await publishRelease(1);
    const reports: UpdateReportMessage[] = [];
    await rig.broker.subscribe(fleetFilters.updateReport, (_topic, payload) => reports.push(decodeUpdateReport(payload)));
    const first = await startGateway('gw-torn');
    await waitFor(() => reports.some((r) => r.step === 'activate' && r.release === 1), 'release 1 active', 30_000);
    await first.stop();
    rig.gateway = undefined;

    const tufDir = `${rig.dir.path}/gw/updates/tuf`;
    const root = await readFile(`${tufDir}/root.json`);
    await truncate(`${tufDir}/root.json`, Math.floor(root.length / 3));
    await writeFile(`${tufDir}/timestamp.json`, '');
    await writeFile(`${tufDir}/snapshot.json`, '\u0000garbage');
    await truncate(`${tufDir}/targets.json`, 7);
    await publishRelease(2);

    const gw = await startGateway('gw-torn');
    await waitFor(() => reports.some((r) => r.step === 'activate' && r.release === 2), 'release 2 active after the restart', 30_000);
    expect(reports.filter((r) => r.outcome !== 'ok')).toEqual([]);
    expect(gw.health().updates).toMatchObject({ refusals: 0 });
    expect(await readFile(`${tufDir}/root.json`)).toEqual(root);
  }, 60_000);
});
