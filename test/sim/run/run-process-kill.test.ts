import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseScenario } from '../../../sim/scenario/index.js';
import { runScenario } from '../../../sim/run/index.js';
import { seedFleetDatabase } from '../../support/pglite-template.js';
import { makeTempDir } from '../../support/temp-dir.js';

/**
 * One gateway of mode `process` (bin/edgewise gateway under the GatewaySupervisor) reading a
 * simulated MCU at 200 Hz over a socat pty pair, killed -9 at 4 s and started again 2 s later.
 * The MCU keeps what the dead gateway had not committed and sends it to the new process; the
 * serial-sensor checkpoint (in the gateway's store) makes a re-sent sample stored once.
 */
const KILLED = `
name: killed
seed: 5
duration: 12s
gateways:
  - group: press
    mode: process
    mcu: { rateHz: 200 }
faults:
  - { kind: kill, at: 4s, restartAfter: 2s, gateways: press-1 }
`;

describe('runScenario with a process gateway', () => {
  let cleanup: (() => Promise<void>) | undefined;
  afterEach(async () => {
    await cleanup?.();
    cleanup = undefined;
  });

  it('kills it -9 mid-run and restarts it: nothing lost, every MCU sample stored once, the kill on the timeline, its RSS on the scorecard', async () => {
    const dir = await makeTempDir('edgewise-sim-kill-');
    cleanup = dir.remove;
    const lines: string[] = [];
    await seedFleetDatabase(join(dir.path, 'data', 'fleet'));
    const r = await runScenario(parseScenario(KILLED, 'killed.yaml'), { dataDir: join(dir.path, 'data'), reportDir: join(dir.path, 'report'), progress: (l) => lines.push(l), progressEveryMs: 2000 });

    expect(lines.some((l) => /1 as processes/.test(l)), lines.join('\n')).toBe(true);
    const t = r.card.totals;
    expect(t.delivery.lost, r.table).toBe(0);
    expect(t.delivery.delivered, r.table).toBeGreaterThan(10);
    // Every sample the MCU took (about 12 s at 200 Hz, the 2 s the gateway was down included) arrived, once.
    expect(t.delivery.samples?.produced, r.table).toBeGreaterThan(1800);
    expect(t.delivery.samples?.missing, r.table).toBe(0);
    expect(t.delivery.samples?.duplicated, r.table).toBe(0);

    // The kill is on the timeline, from the SIGKILL until the new process was up.
    expect(r.card.disruptions.map((d) => ({ kind: d.kind, gatewayIds: d.gatewayIds }))).toEqual([{ kind: 'kill', gatewayIds: ['press-1'] }]);
    const kill = r.card.disruptions[0];
    expect(kill?.endMs, r.table).not.toBeNull();
    expect((kill?.endMs ?? 0) - (kill?.startMs ?? 0)).toBeGreaterThanOrEqual(1900);
    expect(lines.some((l) => /fault kill -9 of press-1/.test(l)) && lines.some((l) => /fault restart of press-1/.test(l)), lines.join('\n')).toBe(true);

    // Two process lives: the counters summed over both, the RSS sampled from /proc.
    const press = r.card.gateways.find((g) => g.gatewayId === 'press-1');
    expect(press?.resources?.rssMaxMb, r.table).toBeGreaterThan(0);
    expect(press?.resources?.samples, r.table).toBeGreaterThan(2);
  }, 90_000);
});
