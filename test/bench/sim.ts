import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { CapacityError, capacityCheck, loadScenario, type Scenario } from '../../sim/scenario/index.js';
import { PlainProgress } from '../../sim/run/progress.js';
import { footprintLine } from '../../sim/run/cli.js';
import { runScenario } from '../../sim/run/run-scenario.js';
import { progress } from './report.js';

const USAGE = 'npm run bench -- sim [--scenario FILE] [--duration S] [--scale GROUP=N ...] [--past-capacity]';

/** The scenario with some groups' counts changed (`--scale cell=400`): how the largest real-time plant is found. */
function scaled(s: Scenario, scales: readonly string[]): Scenario {
  const counts = new Map<string, number>();
  for (const a of scales) {
    const m = /^([a-z][a-z0-9-]*)=(\d+)$/.exec(a);
    if (m === null || Number(m[2]) < 1) throw new Error(`--scale ${a}: expected GROUP=N with N >= 1 (${USAGE})`);
    if (!s.gateways.some((g) => g.group === m[1])) throw new Error(`--scale ${a}: the scenario has no group ${m[1]} (it has ${s.gateways.map((g) => g.group).join(', ')})`);
    counts.set(m[1] as string, Number(m[2]));
  }
  return { ...s, gateways: s.gateways.map((g) => ({ ...g, count: counts.get(g.group) ?? g.count })) };
}

/**
 * `npm run bench -- sim`: plays sim/scenarios/plant.yaml (or `--scenario`) whole and prints
 * the scorecard's JSON line with what the plant cost: `gateways`, `rss_mb_per_gateway` (the
 * process tree's largest RSS less the fleet's before any gateway started, per gateway),
 * whether the simulator kept real time, and its event loop's delay p99 against the same loop
 * idle with only the fleet up (the baseline, measured in the same run): `ratio`.
 */
export async function benchSim(args: readonly string[]): Promise<void> {
  const { values } = parseArgs({
    args: [...args],
    options: { scenario: { type: 'string' }, duration: { type: 'string' }, scale: { type: 'string', multiple: true }, 'past-capacity': { type: 'boolean' } },
  });
  const file = values.scenario ?? join(process.cwd(), 'sim/scenarios/plant.yaml');
  const scenario = scaled(await loadScenario(file), values.scale ?? []);
  const durationMs = values.duration === undefined ? scenario.durationMs : Number(values.duration) * 1000;
  if (!(Number.isFinite(durationMs) && durationMs > 0)) throw new Error(`--duration ${values.duration}: expected seconds (${USAGE})`);
  try {
    capacityCheck(scenario);
  } catch (err) {
    // --past-capacity: play it anyway, to measure where real time really ends (the check's estimate is on the safe side).
    if (!(err instanceof CapacityError)) throw err;
    if (values['past-capacity'] !== true) {
      progress(`the plant does not fit this machine: ${err.message}`);
      process.exitCode = 1;
      return;
    }
    progress(`past the capacity check, as asked: ${err.message}`);
  }
  const gateways = scenario.gateways.reduce((n, g) => n + g.count, 0);
  progress(`sim bench: ${scenario.name}, ${gateways} gateways (${scenario.gateways.map((g) => `${g.group} ${g.count} ${g.mode}`).join(', ')}), ${durationMs / 1000} s`);
  const r = await runScenario(scenario, { durationMs, idleBaselineMs: 5000, progress: new PlainProgress(progress, 10_000) });
  progress(r.table);
  progress(footprintLine(r));
  const f = r.footprint;
  const line = {
    ...(JSON.parse(r.line) as Record<string, unknown>),
    gateways,
    rss_mb_per_gateway: Math.round(((f.rssPeakBytes - f.rssFleetBytes) / 2 ** 20 / gateways) * 100) / 100,
    rss_mb_total: Math.round(f.rssPeakBytes / 2 ** 20),
    fleet_rss_mb: Math.round(f.rssFleetBytes / 2 ** 20),
    cpu_cores: f.cpuCores,
    realtime: f.realtime,
    loop_delay_p99_ms: f.loopDelayP99Ms,
    baseline_loop_delay_p99_ms: f.idleLoopDelayP99Ms,
    ratio: f.idleLoopDelayP99Ms > 0 ? Math.round((f.loopDelayP99Ms / f.idleLoopDelayP99Ms) * 100) / 100 : null,
    action_lag_max_ms: f.actionLagMaxMs,
    latency_p99_ms: r.card.totals.latency.p99Ms === null ? null : Math.round(r.card.totals.latency.p99Ms),
  };
  process.stdout.write(`${JSON.stringify(line)}\n`);
}
