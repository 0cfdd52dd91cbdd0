import { writeFile } from 'node:fs/promises';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { EmbeddedBroker } from '../../../../fleet/broker/embedded-broker.js';
import { EXIT_USAGE, runGatewayCommand } from '../../../../runtime/cli/gateway-command.js';
import { parseConfig } from '../../../../runtime/config/load.js';
import { Gateway } from '../../../../runtime/gateway.js';
import { DATATYPE_IDS } from '../../../../runtime/uplink/sparkplug/metrics.js';
import { builtinRegistry } from '../../../../runtime/plugins.js';
import { testGatewayConfig } from '../../../support/gateway-config.js';
import { RecordCollector } from '../../../support/record-collector.js';
import { SparkplugHost } from '../../../support/sparkplug-host.js';
import { makeTempDir } from '../../../support/temp-dir.js';
import { waitFor } from '../../../support/wait-for.js';

/** The `sparkplug:` section of these tests: press-1 is a Sparkplug device, press-2 is not. */
function sparkplugSection(url: string): string {
  return `
sparkplug:
  url: ${url}
  groupId: Plant1
  edgeNodeId: gw-spb
  reconnect: { minDelayMs: 50, maxDelayMs: 200 }
  batchMaxRecords: 20
  sources:
    - id: press-1
      metrics:
        - { name: x, type: Double, unit: g }
        - { name: t, type: Float, unit: C }
`;
}

describe('a gateway with a sparkplug section', () => {
  let dir: { path: string; remove: () => Promise<void> };
  let fleet: EmbeddedBroker;
  let plant: EmbeddedBroker;
  let gateway: Gateway | undefined;
  let host: SparkplugHost | undefined;
  let collector: RecordCollector | undefined;

  beforeEach(async () => {
    dir = await makeTempDir('edgewise-spwire-');
    fleet = await EmbeddedBroker.create();
    plant = await EmbeddedBroker.create();
  });
  afterEach(async () => {
    await gateway?.stop();
    gateway = undefined;
    await host?.close();
    host = undefined;
    await collector?.close();
    collector = undefined;
    await plant.close();
    await fleet.close();
    await dir.remove();
  });

  it('births its device, sends every record of it as DDATA beside the fleet uplink, and holds them for the plant broker alone through its outage', async () => {
    collector = await RecordCollector.attach(fleet);
    // In the broker's process: the host sees every message, across the outage too.
    const h = await SparkplugHost.attach(plant, 'Plant1');
    host = h;
    const registry = builtinRegistry();
    const yaml = testGatewayConfig({
      id: 'gw-spb',
      dataDir: `${dir.path}/gw`,
      url: fleet.url,
      sync: false,
      healthListen: '127.0.0.1:0',
      sources: [
        { id: 'press-1', rateHz: 100 },
        { id: 'press-2', rateHz: 50 },
      ],
      extra: sparkplugSection(plant.url),
    });
    const gw = await Gateway.create(parseConfig(yaml, 'test', registry), registry, { logger: pino({ level: 'silent' }) });
    gateway = gw;
    await gw.start();
    const sp = () => gw.health().sparkplug;
    const consumers = () => gw.health().store.consumers;

    // Births first: NBIRTH, then the DBIRTH of press-1 with its metrics, datatypes and units.
    await waitFor(() => (sp()?.ackedRecords ?? 0) > 50, 'DDATA acknowledged by the plant broker');
    expect(h.messages.slice(0, 2).map((m) => `${m.type} ${m.device ?? ''}`)).toEqual(['NBIRTH ', 'DBIRTH press-1']);
    const birth = h.of('DBIRTH')[0]?.metrics ?? [];
    expect(birth.map((m) => [m.name, m.datatype, m.engUnit])).toEqual([
      ['x', DATATYPE_IDS.Double, 'g'],
      ['t', DATATYPE_IDS.Float, 'C'],
    ]);
    const alias = (name: string): number => birth.find((m) => m.name === name)?.alias as number;
    // press-2 is no Sparkplug device: its records are acknowledged for the sparkplug consumer unsent.
    expect(h.messages.every((m) => m.device === undefined || m.device === 'press-1')).toBe(true);
    await waitFor(() => (sp()?.skippedRecords ?? 0) > 10, "press-2's records skipped by the sparkplug consumer");
    const firstT = h.of('DDATA')[0]?.metrics.find((m) => m.alias === alias('t'));
    expect(firstT?.value).toBeCloseTo(40, 0); // the synthetic channel t sits at 40 C

    // The plant broker goes away: the fleet keeps draining, the outbox holds records for sparkplug alone.
    await plant.stop();
    await waitFor(() => sp()?.connected === false, 'the edge node to notice the outage');
    const fleetAckedAtOutage = gw.health().uplink.ackedRecords;
    await waitFor(() => (consumers()['sparkplug']?.pending ?? 0) > 150, 'records held for the plant broker');
    const during = gw.health();
    expect(during.uplink.ackedRecords).toBeGreaterThan(fleetAckedAtOutage);
    expect(during.store.consumers['fleet']?.pending).toBeLessThan(during.store.consumers['sparkplug']?.pending as number);
    // Held, not deleted: the outbox keeps what the sparkplug consumer has not acknowledged.
    const heldForSparkplug = during.store.consumers['sparkplug']?.pending as number;
    expect(during.store.records.telemetry).toBeGreaterThanOrEqual(heldForSparkplug);
    expect(during.status).toBe('degraded');
    expect(during.reasons.some((r) => r.startsWith('sparkplug: not connected'))).toBe(true);
    const metrics = await (await fetch(`http://127.0.0.1:${String(gw.healthPort)}/metrics`)).text();
    expect(metrics).toMatch(/edgewise_outbox_consumer_pending\{consumer="sparkplug"\} [1-9]\d*/);
    expect(metrics).toMatch(/edgewise_outbox_consumer_pending\{consumer="fleet"\} \d+/);
    expect(metrics).toContain('edgewise_sparkplug_connected 0');

    // Back: a new birth, then what waited goes out as historical.
    await plant.start();
    await waitFor(() => sp()?.born === true && (consumers()['sparkplug']?.pending ?? Infinity) < 50, 'the backlog after the outage');
    await Promise.all(gw.pipelines.map((p) => p.stopSource()));
    await waitFor(() => {
      const r = gw.health();
      return r.store.records.telemetry === 0 && r.store.consumers['fleet']?.pending === 0 && r.store.consumers['sparkplug']?.pending === 0;
    }, 'both consumers to drain the outbox');

    // None lost: every press-1 record reached the fleet, and the host has a value of x for each.
    const emitted = gw.health().sources.find((s) => s.id === 'press-1')?.emitted as number;
    expect(collector.firstSeenOrder.get('press-1')?.length).toBe(emitted);
    expect(collector.firstSeenOrder.get('press-2')?.length).toBe(gw.health().sources.find((s) => s.id === 'press-2')?.emitted);
    const xs = h.of('DDATA').flatMap((m) => m.metrics.filter((x) => x.alias === alias('x')));
    expect(new Set(xs.map((x) => x.timestamp)).size).toBe(emitted);
    expect(h.of('DDATA').every((m) => m.unknownAliases === 0)).toBe(true);
    const secondBirth = h.messages.findIndex((m, k) => m.type === 'NBIRTH' && k > 0);
    expect(secondBirth).toBeGreaterThan(0);
    expect(h.messages[secondBirth + 1]).toMatchObject({ type: 'DBIRTH', device: 'press-1' });
    const afterBirth = h.messages.slice(secondBirth).filter((m) => m.type === 'DDATA');
    expect(afterBirth[0]?.metrics.every((m) => m.historical)).toBe(true);
    // press-1 makes two thirds of the records held (100/s of 150/s); press-2's are skipped, not sent.
    expect(sp()?.historicalRecords).toBeGreaterThan(heldForSparkplug / 2);

    // A clean stop says NDEATH with the bdSeq of the last birth.
    const bdSeq = sp()?.bdSeq;
    await gw.stop();
    gateway = undefined;
    await waitFor(() => h.messages.at(-1)?.type === 'NDEATH', 'the NDEATH of the stop');
    expect(h.messages.at(-1)?.metrics.find((m) => m.name === 'bdSeq')?.value).toBe(bdSeq);
  });

  it('fails `edgewise gateway --check` on a bad sparkplug section, naming the path and the line', async () => {
    const file = `${dir.path}/bad.yaml`;
    const good = testGatewayConfig({ id: 'gw-bad', dataDir: `${dir.path}/gw`, url: fleet.url, sources: [{ id: 'press-1', rateHz: 10 }] });
    /** Runs the check on `yaml`; its exit code, what it wrote to stderr, and the line of `needle` in the file. */
    const check = async (yaml: string, needle: string): Promise<{ code: number; stderr: string; line: number }> => {
      await writeFile(file, yaml);
      let stderr = '';
      const spy = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
        stderr += String(chunk);
        return true;
      });
      try {
        const code = await runGatewayCommand({ config: file, check: true });
        return { code, stderr, line: yaml.split('\n').findIndex((l) => l.includes(needle)) + 1 };
      } finally {
        spy.mockRestore();
      }
    };
    const section = sparkplugSection(plant.url);
    // The schema: a datatype Sparkplug does not have.
    const badType = await check(`${good}${section.replace('type: Float', 'type: Decimal')}`, 'type: Decimal');
    expect(badType.code).toBe(EXIT_USAGE);
    expect(badType.stderr).toContain('sparkplug.sources[0].metrics[1].type');
    expect(badType.stderr).toContain(`(line ${badType.line})`);
    // A cross-field rule: the source must be a configured device.
    const badSource = await check(`${good}${section.replace('- id: press-1', '- id: press-9')}`, '- id: press-9');
    expect(badSource.code).toBe(EXIT_USAGE);
    expect(badSource.stderr).toMatch(/sparkplug\.sources\[0\]\.id: expected the id of a configured device \(press-1\), or one followed by a part of its streams, like <modbus id>\.<slave name>, got "press-9"/);
    expect(badSource.stderr).toContain(`(line ${badSource.line})`);
    // A metric a host may write on a source that takes no writes.
    const badWrite = await check(`${good}${section.replace('{ name: x, type: Double, unit: g }', '{ name: x, type: Double, unit: g, write: true }')}`, 'write: true');
    expect(badWrite.code).toBe(EXIT_USAGE);
    expect(badWrite.stderr).toContain(`sparkplug.sources[0].metrics[0].write: expected a value its source can write (a synthetic source takes no writes (a modbus source does)), got write: true (line ${badWrite.line})`);
    // A file it names that is missing.
    const badFile = await check(`${good}${section.replace('  groupId: Plant1', '  groupId: Plant1\n  username: gw\n  passwordFile: missing-password')}`, 'passwordFile:');
    expect(badFile.code).toBe(EXIT_USAGE);
    expect(badFile.stderr).toContain('sparkplug.passwordFile');
    expect(badFile.stderr).toContain(`(line ${badFile.line})`);
  });
});
