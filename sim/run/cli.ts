import { CapacityError, ScenarioError, capacityCheck, loadScenario } from '../scenario/index.js';
import { verdict } from '../score/index.js';
import { progressFor } from './progress.js';
import { REALTIME } from './run-meter.js';
import { runScenario, type RunResult } from './run-scenario.js';

export interface SimCommandOptions {
  readonly reportDir?: string;
  /** Seconds: overrides the scenario's duration. */
  readonly duration?: string;
  /** After the scorecard, keep the fleet and its console up until Ctrl-C. */
  readonly keepOpen?: boolean;
}

const EXIT_OK = 0;
/** The run missed a bar of issue 16 (the verdict says which), or a part of it would not start. */
const EXIT_MISSED = 1;
const EXIT_USAGE = 2;

/**
 * `edgewise sim SCENARIO.yaml`: checks the file and the machine's capacity before anything
 * starts, plays the scenario with its progress (a bar per phase on a TTY, plain lines every few
 * seconds otherwise; the console's URL first), prints the scorecard's table, where the report went, what the run missed, and the
 * JSON line last.
 */
/** Whether the machine kept up, and what the plant cost it: the simulator, its gateways' processes and socat together. */
export function footprintLine(r: RunResult): string {
  const f = r.footprint;
  const mb = f.rssPeakBytes / 2 ** 20;
  const perGateway = (f.rssPeakBytes - f.rssFleetBytes) / 2 ** 20 / Math.max(1, r.gatewayCount);
  const pace = f.realtime ? 'kept real time' : `fell behind real time (limits: loop p99 ${REALTIME.loopDelayP99Ms} ms, action ${REALTIME.actionLagMs} ms late)`;
  return `machine: ${pace}: event loop p99 ${f.loopDelayP99Ms} ms, latest action ${f.actionLagMaxMs} ms late; ${mb.toFixed(0)} MB RSS at most (the fleet ${(f.rssFleetBytes / 2 ** 20).toFixed(0)} MB, ${perGateway.toFixed(1)} MB more a gateway), ${f.cpuCores} cores for ${r.gatewayCount} gateways`;
}

export async function runSimCommand(file: string, o: SimCommandOptions): Promise<number> {
  const out = (line: string): void => void process.stdout.write(`${line}\n`);
  let durationMs: number | undefined;
  if (o.duration !== undefined) {
    const s = Number(o.duration);
    if (!(Number.isFinite(s) && s > 0 && s <= 86_400)) {
      process.stderr.write(`edgewise sim: --duration: expected seconds from 1 to 86400, got ${JSON.stringify(o.duration)}\n`);
      return EXIT_USAGE;
    }
    durationMs = Math.round(s * 1000);
  }
  let scenario;
  try {
    scenario = await loadScenario(file);
    capacityCheck(scenario);
  } catch (err) {
    if (err instanceof ScenarioError || err instanceof CapacityError) {
      process.stderr.write(`edgewise sim: ${err.message}\n`);
      return EXIT_USAGE;
    }
    throw err;
  }
  out(`edgewise sim: ${scenario.name}, ${scenario.gateways.reduce((n, g) => n + g.count, 0)} gateways, ${(durationMs ?? scenario.durationMs) / 1000} s (seed ${scenario.seed})`);
  const printScorecard = (r: RunResult): string[] => {
    out('');
    out(r.table);
    out(`report: ${r.report.htmlPath} (and ${r.report.jsonPath}); data: ${r.dataDir}`);
    out(footprintLine(r));
    const missed = verdict(r.card);
    out(missed.length === 0 ? 'verdict: every bar met' : `verdict: missed: ${missed.join('; ')}`);
    return missed;
  };
  let r: RunResult;
  let missed: string[] | undefined;
  try {
    r = await runScenario(scenario, {
      ...(o.reportDir === undefined ? {} : { reportDir: o.reportDir }),
      ...(durationMs === undefined ? {} : { durationMs }),
      progress: progressFor(process.stdout),
      ...(o.keepOpen === true
        ? {
            beforeFleetStops: async (result: RunResult) => {
              missed = printScorecard(result);
              out(result.line);
              out(`the console stays up at ${result.consoleUrl} (the gateways have stopped); Ctrl-C ends it`);
              await new Promise<void>((resolve) => process.once('SIGINT', () => resolve()));
            },
          }
        : {}),
    });
  } catch (err) {
    // A part that would not start (socat missing, a port taken, a data directory locked): said plainly, with its code.
    const code = (err as { code?: unknown }).code;
    if (typeof code !== 'string') throw err;
    process.stderr.write(`edgewise sim: ${(err as Error).message} (${code})\n`);
    return EXIT_MISSED;
  }
  // With --keep-open the scorecard was printed before the console closed; the JSON line stays last.
  if (missed === undefined) missed = printScorecard(r);
  out(r.line);
  return missed.length === 0 ? EXIT_OK : EXIT_MISSED;
}
