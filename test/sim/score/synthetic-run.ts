/**
 * A small simulated run written out by hand, with every outcome known: the scorecard tests
 * score it and check each number against what was put in.
 */
import { recordId } from '../../../runtime/store/keys.js';
import type { Scenario } from '../../../sim/scenario/types.js';
import { DeliveryTally } from '../../../sim/score/delivery.js';
import { LatencyReservoir } from '../../../sim/score/latency.js';
import type { AlertObservation, GroundTruth, Observations, ResourceSample, WaveObservation } from '../../../sim/score/types.js';

export const T0 = Date.UTC(2026, 10, 30, 9, 0, 0);
const at = (s: number): number => T0 + s * 1000;

export const scenario: Scenario = {
  name: 'synthetic',
  description: 'Three gateways, written by hand for the scorecard tests.',
  seed: 7,
  durationMs: 90_000,
  fleet: { dataDir: null, db: null, httpPort: 0 },
  gateways: [],
  faults: [],
  rollouts: [],
  learning: null,
  reportDir: null,
};

const alert = (gatewayId: string, alertId: number, startS: number, endS: number | null): AlertObservation => ({
  gatewayId,
  stream: 'motor-1.alerts',
  alertId,
  startMs: at(startS),
  endMs: endS === null ? null : at(endS),
  channels: ['vibration'],
  peakScore: 6,
});

/** press-1: killed once (two store epochs), one record sent twice. press-2: a tiny disk budget, 40 records evicted. cam-1: one record lost. */
export function syntheticRun(): { truth: GroundTruth; obs: Observations } {
  const press1 = new DeliveryTally();
  for (let seq = 0; seq < 100; seq += 1) press1.addRecord(recordId('p1', 1, seq), { boot: 1, first: seq * 10, count: 10 });
  press1.addRecord(recordId('p1', 1, 99), { boot: 1, first: 990, count: 10 }); // resent after the kill
  for (let seq = 0; seq < 50; seq += 1) press1.addRecord(recordId('p1', 2, seq), { boot: 1, first: 1000 + seq * 10, count: 10 });
  const press2 = new DeliveryTally();
  for (let seq = 0; seq < 200; seq += 1) if (seq < 50 || seq >= 90) press2.addRecord(recordId('p2', 1, seq));
  const cam1 = new DeliveryTally();
  for (let seq = 0; seq < 30; seq += 1) if (seq !== 10) cam1.addRecord(recordId('c1', 1, seq));

  const latency = (base: number, n: number): LatencyReservoir => {
    const r = new LatencyReservoir(256, 1);
    for (let i = 0; i < n; i += 1) r.add(base + (i % 20));
    return r;
  };
  const resources = (mb: number): ResourceSample[] => [0, 1, 2].map((i) => ({ tMs: at(i * 30), rssBytes: (mb + i) * 1024 * 1024, cpuPercent: 10 + i }));

  const truth: GroundTruth = {
    runStartMs: at(0),
    runEndMs: at(95),
    gatewayIds: ['press-1', 'press-2', 'cam-1'],
    sensorFaults: [
      { gatewayId: 'press-1', kind: 'bearing-wear', channels: ['vibration'], startMs: at(10), endMs: at(30) },
      { gatewayId: 'press-1', kind: 'spikes', channels: ['vibration', 'current'], startMs: at(50), endMs: at(60) },
      { gatewayId: 'press-2', kind: 'drift', channels: ['temperature'], startMs: at(20), endMs: at(40) },
    ],
    defectiveParts: [3, 11, 25, 40, 70].map((s, i) => ({ gatewayId: 'cam-1', partId: i + 1, defect: 'dent' as const, leftViewMs: at(s) })),
    disruptions: [
      { kind: 'kill', gatewayIds: ['press-1'], startMs: at(35), endMs: at(40) },
      { kind: 'disk-full', gatewayIds: ['press-2'], startMs: at(0), endMs: null },
      { kind: 'broker-outage', gatewayIds: ['press-1', 'press-2', 'cam-1'], startMs: at(62), endMs: at(70) },
    ],
    mcuSamples: { 'press-1': [{ boot: 1, produced: 1500 }] },
    rollouts: [
      { rolloutId: 'ro-000000000001', release: 'bad', stopAtWave: 0 },
      { rolloutId: 'ro-000000000002', release: 'good', stopAtWave: 0 },
    ],
    learning: { rounds: 2, byzantineIds: ['press-2'], strategy: 'median' },
  };

  const obs: Observations = {
    startedMs: at(0),
    endedMs: at(95),
    gateways: [
      {
        gatewayId: 'press-1',
        delivery: press1.snapshot(),
        counters: { appended: 150, evicted: 0, pendingAtEnd: 0 },
        latency: latency(20, 150).snapshot(),
        // One alert in each fault (2 s and 4 s after it began), one false alert after the outage.
        alerts: [alert('press-1', 1, 12, 31), alert('press-1', 2, 54, 61), alert('press-1', 3, 80, null)],
        defects: [],
        resources: resources(80),
      },
      {
        gatewayId: 'press-2',
        delivery: press2.snapshot(),
        counters: { appended: 200, evicted: 40, pendingAtEnd: 0 },
        latency: latency(30, 160).snapshot(),
        alerts: [],
        defects: [],
        resources: resources(70),
      },
      {
        gatewayId: 'cam-1',
        delivery: cam1.snapshot(),
        counters: { appended: 30, evicted: 0, pendingAtEnd: 0 },
        latency: latency(100, 29).snapshot(),
        alerts: [],
        // Four parts seen leaving (within a second), the one at 40 s missed, one event for a good part.
        defects: [3.2, 11.5, 24.6, 70.1, 85].map((s, i) => ({ gatewayId: 'cam-1', recordId: `c1.1.${i}`, track: i + 1, lastSeenMs: at(s) })),
        resources: resources(150),
      },
    ],
    rollouts: [
      { rolloutId: 'ro-000000000001', state: 'paused', waves: [wave(1, 1, 0, 1), wave(2, 0, 0, 0)], gateFailedAtWave: 0, reason: 'golden check failed' },
      { rolloutId: 'ro-000000000002', state: 'completed', waves: [wave(1, 1, 1, 0), wave(2, 2, 2, 0)], gateFailedAtWave: null, reason: null },
    ],
    learning: [
      { round: 1, outcome: 'model', participants: 2, meanValidationLoss: 0.042, rejected: { malformed: 0 }, participantIds: ['cam-1', 'press-1'], rule: 'median', selectedIds: null },
      { round: 2, outcome: 'model', participants: 2, meanValidationLoss: 0.031, rejected: { 'non-finite': 1 }, participantIds: ['cam-1', 'press-1'], rule: 'median', selectedIds: null },
    ],
  };
  return { truth, obs };
}

function wave(total: number, notified: number, active: number, failed: number): WaveObservation {
  return { total, notified, active, failed, rolledBack: 0, timedOut: 0, reverted: 0 };
}
