import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { describe, expect, it } from 'vitest';
import { encodeBatch, encodeRecord, gatewayTopics } from '../../../fleet/protocol/index.js';
import { FleetProcess } from '../../support/fleet-process.js';
import { seedFleetDatabase } from '../../support/pglite-template.js';
import { GatewayProcess, runCli } from '../../support/gateway-process.js';
import { testGatewayConfig } from '../../support/gateway-config.js';
import { fleetApi, testAlert, useFleetTestRig } from '../../support/fleet-test-rig.js';
import { freePort } from '../../support/ports.js';
import { waitFor } from '../../support/wait-for.js';

describe('fleet service restart', () => {
  const rig = useFleetTestRig();

  it('keeps the registry, credentials and stored alerts across kill -9, and gateways reconnect by themselves', async () => {
    const data = join(rig.dir.path, 'fleet');
    // A new data directory with PGlite's initdb already done (test/support/pglite-template.ts): the fleet's first start goes on from there.
    await seedFleetDatabase(data);
    // Fixed ports, not 0: the fleet is killed and started again, and the gateway must find it
    // where it was. freePort picks them below the ephemeral range, so nothing else on the
    // machine is handed them while the fleet is down (nor can the reconnecting gateway's own
    // local port be one of them).
    const ports = { http: await freePort(), mqtt: await freePort() };
    const started = await FleetProcess.start(data, ports);
    let fleet = started.fleet;
    rig.onCleanup(() => fleet.kill('SIGKILL'));
    // The restarted fleet comes back on the same ports with the same token.
    const api = await fleetApi(started.endpoints.localApiUrl, data);

    // Provision through the CLI while the fleet runs (it goes through the API).
    const out = join(rig.dir.path, 'gw-1');
    const p = await runCli(['fleet', 'provision', '--data', data, '--id', 'gw-1', '--labels', 'site=plant-1,line=press', '--out', out, '--gateway-config-dir', out]);
    expect(p.code, p.stderr).toBe(0);
    expect(p.stdout).toContain(`url: mqtt://127.0.0.1:${ports.mqtt}`);
    expect(p.stdout).toContain(`passwordFile: ${out}/mqtt-password`);
    const password = (await readFile(join(out, 'mqtt-password'), 'utf8')).trim();

    // A real gateway with the provisioned credentials.
    const gwConfig = join(rig.dir.path, 'gw-1.yaml');
    const config = testGatewayConfig({ id: 'gw-1', dataDir: join(rig.dir.path, 'gw-1-data'), url: `mqtt://127.0.0.1:${ports.mqtt}`, sources: [{ id: 'press', rateHz: 5 }] }).replace(
      /^( {2}url: .*)$/m,
      `$1\n  clientId: edgewise-gw-1\n  username: gw-1\n  passwordFile: ${out}/mqtt-password`,
    );
    await writeFile(gwConfig, config);
    const gateway = GatewayProcess.start(gwConfig);
    rig.onCleanup(() => gateway.kill('SIGKILL'));
    await waitFor(async () => (await api('/v1/gateways/gw-1'))['status'] === 'online', 'gw-1 online', 30_000, 100);

    // Alerts from the gateway's identity (a raw client here: the gateway's own alerts need an anomaly).
    const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${ports.mqtt}`, { clientId: 'edgewise-gw-1-alerts', username: 'gw-1', password, protocolVersion: 4, reconnectPeriod: 0 }).catch((err: unknown) => err as Error);
    // Another client id than edgewise-gw-1 is refused: it would take over the gateway's session.
    expect(client).toBeInstanceOf(Error);
    // What an operator's Prometheus sees.
    const metrics = await (await fetch(`${started.endpoints.localApiUrl}/metrics`)).text();
    expect(metrics).toMatch(/^edgewise_fleet_connected_gateways 1$/m);
    expect(metrics).toMatch(/^edgewise_fleet_rejected_connections_total\{reason="bad-client-id"\} 1$/m);
    expect(metrics).toMatch(/^edgewise_fleet_messages_in_total\{kind="state"\} [1-9]/m);
    expect(metrics).toMatch(/^edgewise_fleet_db_seconds_count\{op="query"\} [1-9]/m);
    expect(metrics).toMatch(/^edgewise_fleet_ingest_lag_seconds_count [1-9]/m);
    const gw2 = await runCli(['fleet', 'provision', '--data', data, '--id', 'gw-2', '--out', join(rig.dir.path, 'gw-2')]);
    expect(gw2.code, gw2.stderr).toBe(0);
    const pw2 = (await readFile(join(rig.dir.path, 'gw-2', 'mqtt-password'), 'utf8')).trim();
    const sender = await mqtt.connectAsync(`mqtt://127.0.0.1:${ports.mqtt}`, { clientId: 'edgewise-gw-2', username: 'gw-2', password: pw2, protocolVersion: 4, reconnectPeriod: 0 });
    const records = Array.from({ length: 20 }, (_, i) => testAlert(`a.1.${i}`));
    await sender.publishAsync(gatewayTopics.records('gw-2'), Buffer.from(encodeBatch('gw-2', Date.now(), records.map(encodeRecord))), { qos: 1 });
    // The PUBACK came after the commit: the alerts are there now, no waiting.
    expect(((await api('/v1/events?gateway=gw-2&kind=alert&limit=100'))['items'] as unknown[]).length).toBe(20);
    sender.end(true);

    // kill -9 the fleet (its embedded broker dies with it), then start it again on the same data.
    await fleet.kill('SIGKILL');
    fleet = (await FleetProcess.start(data, ports)).fleet;
    rig.onCleanup(() => fleet.kill('SIGKILL'));
    const gws = (await api('/v1/gateways'))['items'] as { id: string; labels: Record<string, string> }[];
    expect(gws.map((g) => g.id)).toEqual(['gw-1', 'gw-2']);
    expect(gws[0]?.labels).toEqual({ site: 'plant-1', line: 'press' });
    expect(((await api('/v1/events?gateway=gw-2&kind=alert&limit=100'))['items'] as unknown[]).length).toBe(20);
    // The gateway reconnects by itself with the credentials it had.
    await waitFor(async () => (await api('/v1/gateways/gw-1'))['status'] === 'online', 'gw-1 online again after the restart', 30_000, 100);
    // A resend after the crash is stored once.
    const again = await mqtt.connectAsync(`mqtt://127.0.0.1:${ports.mqtt}`, { clientId: 'edgewise-gw-2', username: 'gw-2', password: pw2, protocolVersion: 4, reconnectPeriod: 0 });
    await again.publishAsync(gatewayTopics.records('gw-2'), Buffer.from(encodeBatch('gw-2', Date.now(), records.map(encodeRecord))), { qos: 1 });
    again.end(true);
    expect(((await api('/v1/events?gateway=gw-2&kind=alert&limit=100'))['items'] as unknown[]).length).toBe(20);

    // Revoked through the CLI: the live gateway is dropped and stays out.
    const r = await runCli(['fleet', 'revoke', '--data', data, 'gw-1']);
    expect(r.code, r.stderr).toBe(0);
    await waitFor(async () => (await api('/v1/gateways/gw-1'))['status'] === 'revoked', 'gw-1 revoked', 10_000, 100);
    const stillOut = await mqtt.connectAsync(`mqtt://127.0.0.1:${ports.mqtt}`, { clientId: 'edgewise-gw-1', username: 'gw-1', password, protocolVersion: 4, reconnectPeriod: 0 }).catch((err: unknown) => err as Error);
    expect(stillOut).toBeInstanceOf(Error);
  });

  it('refuses a second fleet on a data directory that a live fleet holds, naming its pid', async () => {
    const data = join(rig.dir.path, 'fleet');
    // A new data directory with PGlite's initdb already done (test/support/pglite-template.ts): the fleet's first start goes on from there.
    await seedFleetDatabase(data);
    const { fleet } = await FleetProcess.start(data);
    rig.onCleanup(() => fleet.kill('SIGKILL'));
    const second = await runCli(['fleet', '--data', data, '--http', '127.0.0.1:0', '--mqtt', '127.0.0.1:0'], 30_000);
    expect(second.code).toBe(1);
    expect(second.stderr).toContain(`in use by fleet process ${fleet.child.pid}`);
  });
});
