import { writeFile } from 'node:fs/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EmbeddedBroker } from '../../../fleet/broker/embedded-broker.js';
import type { FleetEvent } from '../../../fleet/console/api/types.js';
import { openAlerts } from '../../../fleet/console/logic/open-alerts.js';
import { decodeRecordMessage } from '../../../fleet/ingest/record-message.js';
import { fleetFilters, type WireRecord } from '../../../fleet/protocol/index.js';
import { parseConfig } from '../../../runtime/config/load.js';
import { builtinRegistry } from '../../../runtime/plugins.js';
import { GatewayProcess } from '../../support/gateway-process.js';
import { makeTempDir } from '../../support/temp-dir.js';
import { waitFor } from '../../support/wait-for.js';

interface AlertData {
  alert: number;
  state: string;
  start: number;
  end: number | null;
  endedBy?: string;
}

/**
 * A press whose vibration steps up by 4 g 3 s after each start. The alert policy's
 * clearThreshold is 0: an alert, once raised, stays open until the gateway stops or dies, so
 * the one open at the kill does not depend on how fast the detector learns the new level.
 */
function config(dataDir: string, url: string): string {
  return `
gateway: { id: gw-restart, dataDir: ${JSON.stringify(dataDir)}, shutdownTimeoutMs: 5000 }
devices:
  - id: press-1
    type: synthetic
    rateHz: 500
    samplesPerRecord: 25
    channels:
      - { name: vibration, unit: g, sine: { amplitude: 1, frequencyHz: 7 }, noise: { stddev: 0.05 }, steps: { everyMs: 3000, height: 4 } }
      - { name: temperature, unit: degC, offset: 41, noise: { stddev: 0.02 } }
pipelines:
  - id: press-1
    source: press-1
    stages:
      - type: anomaly
        model: { name: press-anomaly, version: "2026.11" }
        alert: { minDurationMs: 300, smoothingMs: 500, cooldownMs: 0, clearThreshold: 0 }
store: { maxSizeBytes: 1073741824 }
uplink: { url: ${url}, connectTimeoutMs: 2000, reconnect: { minDelayMs: 100, maxDelayMs: 1000 } }
health: { intervalMs: 1000 }
log: { level: warn }
`;
}

/** A record as the fleet's events API gives it (what the console's logic reads). */
function asFleetEvent(gatewayId: string, r: WireRecord, receivedMs: number): FleetEvent {
  return { gatewayId, recordId: r.id, kind: 'alert', class: r.class, stream: r.stream, model: null, ts: r.ts, receivedMs, data: r.data };
}

describe('alert ids of a gateway killed -9 and started again', () => {
  let dir: { path: string; remove: () => Promise<void> };
  let broker: EmbeddedBroker | undefined;
  let proc: GatewayProcess | undefined;
  let unsubscribe: (() => Promise<void>) | undefined;

  beforeEach(async () => {
    dir = await makeTempDir();
  });
  afterEach(async () => {
    await proc?.kill('SIGKILL');
    await unsubscribe?.();
    await broker?.close();
    await dir.remove();
  });

  it('the new process clears the alert the killed one left open and numbers its next alert on; the console then shows only the new one open', { timeout: 90_000 }, async () => {
    broker = await EmbeddedBroker.create();
    // The fleet's view: every alert record once (a restarted gateway may send one again).
    const alerts = new Map<string, FleetEvent>();
    unsubscribe = await broker.subscribe(fleetFilters.records, (topic, payload) => {
      const d = decodeRecordMessage(topic, payload);
      for (const r of d.records) if (r.class === 'alert' && !alerts.has(r.id)) alerts.set(r.id, asFleetEvent(d.gatewayId, r, Date.now()));
    });
    const data = (): AlertData[] => [...alerts.values()].map((a) => a.data as AlertData);
    const configPath = `${dir.path}/gateway.yaml`;
    const yaml = config(`${dir.path}/data`, broker.url);
    parseConfig(yaml, 'test', builtinRegistry()); // fail here, not in the child, if the config is wrong
    await writeFile(configPath, yaml);

    // First life: an alert is raised and reaches the fleet; then kill -9, the alert still open.
    proc = GatewayProcess.start(configPath);
    const first = await waitFor(() => data().find((a) => a.state === 'raised'), 'the first alert at the fleet', 30_000).catch((err: unknown) => {
      throw new Error(`${(err as Error).message}; stderr: ${proc?.stderr ?? ''}`);
    });
    expect(await proc.kill('SIGKILL')).toMatchObject({ signal: 'SIGKILL' });
    expect(data().filter((a) => a.alert === first.alert && a.state === 'cleared')).toEqual([]);
    expect(openAlerts([...alerts.values()]).map((a) => (a.data as AlertData).alert)).toEqual([first.alert]);

    // Second life, same data dir.
    proc = GatewayProcess.start(configPath);
    const closed = await waitFor(() => data().find((a) => a.alert === first.alert && a.state === 'cleared'), 'the killed process\'s alert cleared', 30_000);
    expect(closed).toMatchObject({ start: first.start, endedBy: 'restart' });
    expect(closed.end).toBeGreaterThanOrEqual(first.start);
    const second = await waitFor(() => data().find((a) => a.state === 'raised' && a.start > first.start), 'the second process\'s alert', 30_000);
    expect(second.alert).not.toBe(first.alert);
    expect(second.alert).toBeGreaterThan(first.alert);
    // Each id was raised once: no new alert took an old one's number.
    const raised = data().filter((a) => a.state === 'raised').map((a) => a.alert);
    expect(new Set(raised).size).toBe(raised.length);

    // What the console counts as open: the new alert only, not the one the kill left behind.
    expect(openAlerts([...alerts.values()]).map((a) => (a.data as AlertData).alert)).toEqual([second.alert]);
  });
});
