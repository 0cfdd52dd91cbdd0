import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach } from 'vitest';
import type { WireRecord } from '../../fleet/protocol/index.js';
import { makeTempDir } from './temp-dir.js';

/**
 * A temp dir per test and the things a test started (fleets, gateways, brokers), stopped in
 * reverse order after it, even when it failed.
 */
export interface FleetTestRig {
  dir: { path: string; remove: () => Promise<void> };
  /** Registers something to stop after the test. */
  onCleanup(stop: () => Promise<unknown>): void;
}

export function useFleetTestRig(): FleetTestRig {
  const stops: (() => Promise<unknown>)[] = [];
  const rig = {
    onCleanup: (stop: () => Promise<unknown>): void => {
      stops.push(stop);
    },
  } as FleetTestRig;
  beforeEach(async () => {
    rig.dir = await makeTempDir();
  });
  afterEach(async () => {
    for (const s of stops.splice(0).reverse()) await s().catch(() => undefined);
    await rig.dir.remove();
  });
  return rig;
}

/** A GET on the fleet API with the operator token from its data directory. */
export async function fleetApi(apiUrl: string, dataDir: string): Promise<(path: string) => Promise<Record<string, unknown>>> {
  const token = (await readFile(join(dataDir, 'operator-token'), 'utf8')).trim();
  return async (path) => (await (await fetch(`${apiUrl}${path}`, { headers: { authorization: `Bearer ${token}` } })).json()) as Record<string, unknown>;
}

/** An alert record as the anomaly stage makes them, small. */
export const testAlert = (id: string): WireRecord => ({ id, stream: 'press.alerts', class: 'alert', ts: Date.now(), data: { alert: 1, state: 'raised', model: { name: 'streaming-anomaly' } } });
