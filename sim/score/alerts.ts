/**
 * Anomaly alerts against the sensor faults the simulator injected.
 *
 * An alert is true when it starts inside a fault window of its own gateway, or within
 * `graceMs` after the window ends (the fault's end is news too: a stuck sensor let go, a
 * drifted reading back at once). A fault is detected only by an alert that starts while it is
 * on: one raised after it ended is not a false alarm, but it did not catch the fault (a drift
 * noticed only when it stops was missed). The detection delay is the first such alert's start
 * minus the fault's start. Precision counts alerts (an alert that flaps during one long fault
 * is still right each time), recall counts faults.
 */
import type { FaultEvent, FaultKind } from '../mcu/signals.js';
import type { AlertObservation, SensorFaultWindow } from './types.js';

export const DEFAULT_ALERT_GRACE_MS = 10_000;

/** The MCU channels each fault changes (sim/mcu/signals.ts). */
export function sensorFaultChannels(kind: FaultKind): readonly string[] {
  switch (kind) {
    case 'bearing-wear':
      return ['vibration'];
    case 'spikes':
      return ['vibration', 'current'];
    case 'stuck':
      return ['vibration', 'temperature', 'current'];
    case 'drift':
      return ['temperature'];
  }
}

/**
 * A simulated MCU's fault log as windows: `sampleMs(index)` maps a sample index to the wall
 * clock (the gateway's timestamps come from time sync with the MCU). A fault still on at
 * the end closes at `endMs`.
 */
export function sensorFaultWindows(gatewayId: string, log: readonly FaultEvent[], sampleMs: (index: number) => number, endMs: number): SensorFaultWindow[] {
  const open = new Map<FaultKind, number>();
  const out: SensorFaultWindow[] = [];
  for (const e of log) {
    if (e.on) {
      if (!open.has(e.kind)) open.set(e.kind, sampleMs(e.atIndex));
      continue;
    }
    const start = open.get(e.kind);
    if (start === undefined) continue;
    open.delete(e.kind);
    out.push({ gatewayId, kind: e.kind, channels: sensorFaultChannels(e.kind), startMs: start, endMs: sampleMs(e.atIndex) });
  }
  for (const [kind, start] of open) out.push({ gatewayId, kind, channels: sensorFaultChannels(kind), startMs: start, endMs: Math.max(start, endMs) });
  return out.sort((a, b) => a.startMs - b.startMs);
}

/** An item of GET /v1/events (fleet/api/schemas/events.ts), as far as the scorecard reads it. */
export interface FleetEventItem {
  readonly gatewayId: string;
  readonly recordId: string;
  readonly kind: string;
  readonly stream: string;
  readonly ts: number;
  readonly data: unknown;
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Folds the fleet's alert events (one `raised`, later one `cleared`, per alert) into one
 * observation per alert. An alert is known by its gateway, stream, id and start: a gateway
 * keeps its alert ids across restarts (models/anomaly's alert ledger), and the start also tells
 * apart two alerts whose ids were reused (a gateway whose ledger was lost, or an older one).
 * Events that are not anomaly alerts of that shape are counted in `unreadable`, not guessed at.
 */
export function alertsFromEvents(events: readonly FleetEventItem[]): { alerts: AlertObservation[]; unreadable: number } {
  const byKey = new Map<string, { -readonly [K in keyof AlertObservation]: AlertObservation[K] }>();
  let unreadable = 0;
  for (const e of events) {
    if (e.kind !== 'alert') continue;
    const d = e.data;
    if (!isRecord(d) || typeof d['alert'] !== 'number' || (d['state'] !== 'raised' && d['state'] !== 'cleared') || typeof d['start'] !== 'number') {
      unreadable += 1;
      continue;
    }
    const key = `${e.gatewayId}\u0000${e.stream}\u0000${d['alert']}\u0000${d['start']}`;
    const channels = Array.isArray(d['channels']) ? d['channels'].filter((c): c is string => typeof c === 'string') : [];
    const end = typeof d['end'] === 'number' ? d['end'] : null;
    const peak = typeof d['peakScore'] === 'number' ? d['peakScore'] : 0;
    const known = byKey.get(key);
    if (known === undefined) {
      byKey.set(key, { gatewayId: e.gatewayId, stream: e.stream, alertId: d['alert'], startMs: d['start'], endMs: d['state'] === 'cleared' ? end : null, channels, peakScore: peak });
      continue;
    }
    if (d['state'] === 'cleared') known.endMs = end;
    known.peakScore = Math.max(known.peakScore, peak);
    if (channels.length > known.channels.length) known.channels = channels;
  }
  return { alerts: [...byKey.values()].sort((a, b) => a.startMs - b.startMs), unreadable };
}

export interface FaultOutcome {
  readonly fault: SensorFaultWindow;
  /** First alert's start while the fault was on minus the fault's start; null: missed. */
  readonly delayMs: number | null;
}

export interface AlertScore {
  readonly alerts: number;
  readonly trueAlerts: number;
  readonly faults: number;
  readonly detected: number;
  /** trueAlerts / alerts; 1 when there were no alerts (no false alarm was raised). */
  readonly precision: number;
  /** detected / faults; 1 when no fault was injected. */
  readonly recall: number;
  readonly meanDelayMs: number | null;
  readonly maxDelayMs: number | null;
  /** Alerts that match no fault, by start time. */
  readonly falseAlerts: readonly AlertObservation[];
  readonly outcomes: readonly FaultOutcome[];
}

/** True when the alert counts for the fault: same gateway, started in [start, end + grace]. */
export function alertMatchesFault(alert: AlertObservation, fault: SensorFaultWindow, graceMs: number): boolean {
  return alert.gatewayId === fault.gatewayId && alert.startMs >= fault.startMs && alert.startMs <= fault.endMs + graceMs;
}

export function scoreAlerts(alerts: readonly AlertObservation[], faults: readonly SensorFaultWindow[], graceMs = DEFAULT_ALERT_GRACE_MS): AlertScore {
  const falseAlerts: AlertObservation[] = [];
  const firstStart = new Map<SensorFaultWindow, number>();
  let trueAlerts = 0;
  for (const a of alerts) {
    let matched = false;
    for (const f of faults) {
      if (!alertMatchesFault(a, f, graceMs)) continue;
      matched = true;
      if (a.startMs > f.endMs) continue; // true, but after the fault: it did not detect it
      const known = firstStart.get(f);
      if (known === undefined || a.startMs < known) firstStart.set(f, a.startMs);
    }
    if (matched) trueAlerts += 1;
    else falseAlerts.push(a);
  }
  const outcomes = faults.map((fault) => {
    const first = firstStart.get(fault);
    return { fault, delayMs: first === undefined ? null : first - fault.startMs };
  });
  const delays = outcomes.flatMap((o) => (o.delayMs === null ? [] : [o.delayMs]));
  return {
    alerts: alerts.length,
    trueAlerts,
    faults: faults.length,
    detected: delays.length,
    precision: alerts.length === 0 ? 1 : trueAlerts / alerts.length,
    recall: faults.length === 0 ? 1 : delays.length / faults.length,
    meanDelayMs: delays.length === 0 ? null : delays.reduce((a, b) => a + b, 0) / delays.length,
    maxDelayMs: delays.length === 0 ? null : Math.max(...delays),
    falseAlerts: [...falseAlerts].sort((a, b) => a.startMs - b.startMs),
    outcomes,
  };
}
