import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { decodeRecordMessage } from '../../../fleet/ingest/record-message.js';
import { fleetFilters, type WireRecord } from '../../../fleet/protocol/index.js';
import { parseConfig } from '../../../runtime/config/load.js';
import { Gateway } from '../../../runtime/gateway.js';
import { builtinRegistry } from '../../../runtime/plugins.js';
import { useGatewayRig } from '../../support/gateway-rig.js';
import { waitFor } from '../../support/wait-for.js';

/** A press whose vibration steps up by 4 g after 6 s: the anomaly stage in a real gateway. */
function config(dataDir: string, url: string): string {
  return `
gateway: { id: gw-anomaly, dataDir: ${JSON.stringify(dataDir)}, shutdownTimeoutMs: 5000 }
devices:
  - id: press-1
    type: synthetic
    rateHz: 500
    samplesPerRecord: 25
    channels:
      - { name: vibration, unit: g, sine: { amplitude: 1, frequencyHz: 7 }, noise: { stddev: 0.05 }, steps: { everyMs: 6000, height: 4 } }
      - { name: temperature, unit: degC, offset: 41, noise: { stddev: 0.02 } }
pipelines:
  - id: press-1
    source: press-1
    stages:
      - type: anomaly
        model: { name: press-anomaly, version: "2026.11" }
        alert: { minDurationMs: 300, smoothingMs: 500, cooldownMs: 60000 }
store: { maxSizeBytes: 1073741824 }
uplink: { url: ${url}, connectTimeoutMs: 2000, reconnect: { minDelayMs: 100, maxDelayMs: 1000 } }
health: { intervalMs: 1000 }
log: { level: warn }
`;
}

describe('anomaly stage in a gateway', () => {
  const rig = useGatewayRig();

  it('sends an explained alert to the fleet, logs the decision with the model, and reports the stage in health', async () => {
    const alerts: WireRecord[] = [];
    let telemetry = 0;
    const unsubscribe = await rig.broker.subscribe(fleetFilters.records, (topic, payload) => {
      for (const r of decodeRecordMessage(topic, payload).records) {
        if (r.class === 'alert') alerts.push(r);
        else telemetry += 1;
      }
    });
    const registry = builtinRegistry();
    const gw = await Gateway.create(parseConfig(config(`${rig.dir.path}/gw`, rig.broker.url), 'test', registry), registry, { logger: pino({ level: 'silent' }) });
    rig.gateway = gw;
    const startedAt = Date.now();
    await gw.start();

    const alert = await waitFor(() => alerts.find((a) => (a.data as { state?: string }).state === 'raised'), 'an alert at the fleet', 30_000);
    expect(alert.stream).toBe('press-1.alerts');
    // Raised at the step, not before it (none in the first 6 s of normal running).
    expect(alert.ts - startedAt).toBeGreaterThanOrEqual(6000 - 50);
    expect(alert.ts - startedAt).toBeLessThan(6000 + 2000);
    const d = alert.data as { channels: string[]; peakScore: number; explanation: Record<string, { contribution: number; unit: string }>; model: { name: string; version: string; hash: string } };
    expect(d.channels).toEqual(['vibration']);
    expect(d.explanation['vibration']?.unit).toBe('g');
    expect(d.peakScore).toBeGreaterThanOrEqual(0.4);
    expect(Object.values(d.explanation).reduce((a, e) => a + e.contribution, 0)).toBeCloseTo(d.peakScore, 9);
    expect(d.model).toMatchObject({ name: 'press-anomaly', version: '2026.11' });
    expect(d.model.hash).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(telemetry).toBeGreaterThan(0); // the samples still reach the fleet

    const logged = await waitFor(async () => (await gw.decisions.list(0, Date.now() + 1000, 100)).find((e) => e.kind === 'alert'), 'the decision log entry');
    expect(logged.model).toEqual(d.model);
    expect(logged.stream).toBe('press-1');

    const stage = gw.health().pipelines[0]?.stages[0];
    expect(stage?.type).toBe('anomaly');
    expect(stage?.details).toMatchObject({ detector: 'streaming', degraded: false, provider: 'js', modelHash: d.model.hash });
    expect(stage?.details['alertsRaised']).toBeGreaterThanOrEqual(1);
    await unsubscribe();
  }, 60_000);
});
