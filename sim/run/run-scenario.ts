import { mkdtemp, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { pino, type Logger } from 'pino';
import { FleetService } from '../../fleet/service/fleet-service.js';
import { builtinRegistry } from '../../runtime/plugins.js';
import { groupIds, targetIds } from '../scenario/index.js';
import type { Fault, Scenario } from '../scenario/types.js';
import { renderTable, score, scorecardLine, writeScorecard, type Disruption, type Scorecard } from '../score/index.js';
import { DeliveryTap } from './delivery-tap.js';
import { collectObservations, collectTruth } from './collect.js';
import { asProgress, type RunProgress } from './progress.js';
import { RunMeter, type RunFootprint } from './run-meter.js';
import { settleCameras } from './camera-settle.js';
import { startSimGateway, type SimGateway } from './sim-gateway.js';
import { RolloutPlay } from './rollout-play.js';
import { SimRepo } from './sim-repo.js';
import { FLEET_MODEL, fleetModelTraining } from './fleet-model.js';
import { byzantinePlugins, learningCast, LearningPlay } from './learning-play.js';

export interface RunOptions {
  /** Overrides the scenario's reportDir (default: `report` under the run's data directory). */
  readonly reportDir?: string;
  /** Overrides the scenario's fleet data directory (default: a new temporary directory, kept). */
  readonly dataDir?: string;
  /** Overrides the scenario's duration (the faults past it are left out). */
  readonly durationMs?: number;
  /**
   * Where the run says how it goes: a display (bars per phase on a TTY: `progressFor`), or a
   * callback of plain lines (the console URL, each fault, every few seconds the counts); default: none.
   */
  readonly progress?: RunProgress | ((line: string) => void);
  /** How often a plain display prints the counts (default 5 s). */
  readonly progressEveryMs?: number;
  /** How long the gateways may take to deliver what they hold once the sources stop. Default 60 s. */
  readonly drainTimeoutMs?: number;
  /**
   * Called with the result while the fleet still runs (its gateways stopped): `edgewise sim
   * --keep-open` prints the scorecard here and keeps the console up until Ctrl-C.
   */
  readonly beforeFleetStops?: (result: RunResult) => Promise<void>;
  /** Measure the event loop this long with only the fleet up, before the gateways start (a benchmark's baseline). */
  readonly idleBaselineMs?: number;
  /** The fleet's and the gateways' log (default: errors only, to stderr). */
  readonly logger?: Logger;
}

export interface RunResult {
  readonly card: Scorecard;
  /** The JSON line (the last line `edgewise sim` prints). */
  readonly line: string;
  readonly table: string;
  readonly report: { readonly jsonPath: string; readonly htmlPath: string };
  readonly consoleUrl: string;
  readonly dataDir: string;
  /** Whether the simulator kept up (real time), and what the whole simulated plant cost this machine. */
  readonly footprint: RunFootprint;
  readonly gatewayCount: number;
}

/** A scenario action at its time from the run's start. */
interface Action {
  readonly atMs: number;
  readonly what: string;
  readonly run: () => void | Promise<void>;
  /** Runs beside the loop (a gateway restart takes seconds: later actions must not wait for it); awaited before the run ends. */
  readonly background?: boolean;
}

/** A disruption as it was played (wall-clock times), for the scorecard's timeline and ground truth. */
interface PlayedDisruption {
  readonly kind: Disruption['kind'];
  readonly gatewayIds: string[];
  readonly startMs: number;
  endMs: number | null;
}

/**
 * The faults this runner plays, as actions at their times: sensor faults as MCU switches (on at
 * atMs, off at atMs + durationMs, clipped to the run); cable pulls as the serial link pulled and
 * restored (one still pulled at the run's end is restored then, before the drain), each noted
 * in `played` as it happens.
 */
function faultActions(s: Scenario, gateways: ReadonlyMap<string, SimGateway>, durationMs: number, played: PlayedDisruption[]): Action[] {
  const actions: Action[] = [];
  // Network faults: each gateway reaches the broker through its own TcpProxy. A broker outage
  // resets every connection and refuses new ones (what a stopped broker looks like); a
  // partition holds the cut gateways' bytes in silence (a blackhole: only keepalive notices).
  const net = (f: Fault): f is Extract<Fault, { kind: 'broker-outage' | 'partition' }> => f.kind === 'broker-outage' || f.kind === 'partition';
  for (const f of s.faults.filter(net)) {
    if (f.atMs >= durationMs) continue;
    const ids = f.kind === 'broker-outage' ? [...gateways.keys()] : targetIds(s, f.gateways).filter((id) => gateways.has(id));
    const proxies = ids.map((id) => (gateways.get(id) as SimGateway).proxy);
    let entry: PlayedDisruption | undefined;
    actions.push({
      atMs: f.atMs,
      what: `${f.kind} of ${f.kind === 'broker-outage' ? 'every gateway' : ids.join(', ')}`,
      run: () => {
        entry = { kind: f.kind, gatewayIds: ids, startMs: Date.now(), endMs: null };
        played.push(entry);
        for (const p of proxies) p.cut(f.kind === 'broker-outage' ? 'reset' : 'blackhole', f.kind);
      },
    });
    actions.push({
      atMs: Math.min(f.atMs + f.durationMs, durationMs),
      what: `${f.kind} over`,
      run: () => {
        for (const p of proxies) p.restore();
        if (entry !== undefined) entry.endMs = Date.now();
      },
    });
  }
  const pull = (f: Fault): f is Extract<Fault, { kind: 'cable-pull' }> => f.kind === 'cable-pull';
  for (const f of s.faults.filter(pull)) {
    if (f.atMs >= durationMs) continue;
    for (const id of targetIds(s, f.gateways)) {
      const cable = gateways.get(id)?.cable;
      if (cable === null || cable === undefined) continue;
      let entry: PlayedDisruption | undefined;
      actions.push({
        atMs: f.atMs,
        what: `cable pulled on ${id}`,
        run: async () => {
          entry = { kind: 'cable-pull', gatewayIds: [id], startMs: Date.now(), endMs: null };
          played.push(entry);
          await cable.pull();
        },
      });
      actions.push({
        atMs: Math.min(f.atMs + f.durationMs, durationMs),
        what: `cable restored on ${id}`,
        run: async () => {
          await cable.restore();
          if (entry !== undefined) entry.endMs = Date.now();
        },
      });
    }
  }
  // kill -9 of a process gateway, started again restartAfterMs later (at the run's end at the
  // latest, so it delivers what it kept); the kill ends when the new process is up.
  const kill = (f: Fault): f is Extract<Fault, { kind: 'kill' }> => f.kind === 'kill';
  for (const f of s.faults.filter(kill)) {
    if (f.atMs >= durationMs) continue;
    for (const id of targetIds(s, f.gateways)) {
      const proc = gateways.get(id)?.process;
      if (proc === null || proc === undefined) continue;
      let entry: PlayedDisruption | undefined;
      actions.push({
        atMs: f.atMs,
        what: `kill -9 of ${id}`,
        run: async () => {
          entry = { kind: 'kill', gatewayIds: [id], startMs: Date.now(), endMs: null };
          played.push(entry);
          await proc.kill9();
        },
      });
      actions.push({
        atMs: Math.min(f.atMs + f.restartAfterMs, durationMs),
        what: `restart of ${id}`,
        background: true,
        run: async () => {
          await proc.restart();
          if (entry !== undefined) entry.endMs = Date.now();
        },
      });
    }
  }
  const sensor = (f: Fault): f is Extract<Fault, { kind: 'sensor' }> => f.kind === 'sensor';
  for (const f of s.faults.filter(sensor)) {
    if (f.atMs >= durationMs) continue;
    for (const id of targetIds(s, f.gateways)) {
      const mcu = gateways.get(id)?.mcu;
      if (mcu === null || mcu === undefined) continue;
      actions.push({ atMs: f.atMs, what: `${f.fault} on ${id}`, run: () => mcu.setFault(f.fault, true) });
      if (f.atMs + f.durationMs < durationMs) actions.push({ atMs: f.atMs + f.durationMs, what: `${f.fault} off ${id}`, run: () => mcu.setFault(f.fault, false) });
    }
  }
  return actions.sort((a, b) => a.atMs - b.atMs);
}

/** How long past the run's end a rollout still going may take to settle before it is scored. */
const ROLLOUT_SETTLE_MS = 10_000;

/** Gateways started at once (see the start loop). */
const START_CONCURRENCY = 8;

async function until(cond: () => boolean | Promise<boolean>, timeoutMs: number, stepMs = 100): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await cond()) return true;
    if (Date.now() >= deadline) return false;
    await sleep(stepMs);
  }
}

/**
 * Plays a scenario: the fleet service in this process (embedded broker, PGlite in the data
 * directory), every gateway provisioned through its registry and started with its real config
 * (in this process, or as a child process for mode `process`), a consumer at the broker
 * tallying what arrives, the faults played at their times; then the sources stop, the outboxes drain, the fleet's alerts are read and the
 * run is scored. Writes scorecard.json and report.html.
 */
export async function runScenario(scenario: Scenario, options: RunOptions = {}): Promise<RunResult> {
  const display = asProgress(options.progress, options.progressEveryMs);
  const say = (line: string): void => display.line(line);
  const durationMs = options.durationMs ?? scenario.durationMs;
  const logger = options.logger ?? pino({ level: 'error' }, pino.destination(2));
  const dataDir = resolve(options.dataDir ?? scenario.fleet.dataDir ?? (await mkdtemp(join(tmpdir(), `edgewise-sim-${scenario.name}-`))));
  await mkdir(dataDir, { recursive: true });
  const reportDir = resolve(options.reportDir ?? scenario.reportDir ?? join(dataDir, 'report'));
  // The learning round's cast: who learns, who is Byzantine (learning-play.ts).
  const cast = learningCast(scenario);
  for (const id of cast?.honestAfterAll ?? []) say(`learning: ${id} is Byzantine in the scenario but runs as a process: it cannot be made to poison its update and trains honestly`);

  // The run's TUF repository (rollout-play.ts publishes the releases the scenario rolls out).
  // (A learning round needs it too: its global model is a signed release; learning-play.ts.)
  const repo = scenario.rollouts.length > 0 || scenario.learning !== null ? await SimRepo.start(join(dataDir, 'tuf')) : null;
  const fleet = await FleetService.start({
    ...(repo === null ? {} : repo.fleetOptions()),
    dataDir: join(dataDir, 'fleet'),
    broker: 'embedded',
    db: scenario.fleet.db ?? 'embedded',
    http: { host: '127.0.0.1', port: scenario.fleet.httpPort },
    mqtt: { host: '127.0.0.1', port: 0 },
    retention: { maxAgeMs: 7 * 86_400_000, maxEvents: 1_000_000 },
    logger: logger.child({ part: 'fleet' }),
  }).catch(async (err: unknown) => {
    await repo?.stop();
    throw err;
  });
  const gateways = new Map<string, SimGateway>();
  const ids = scenario.gateways.flatMap((g) => groupIds(g));
  const tap = new DeliveryTap(ids, scenario.seed);
  let rollouts: RolloutPlay | null = null;
  let learning: LearningPlay | null = null;
  try {
    const broker = fleet.broker;
    if (broker === undefined) throw new Error('the simulator runs the fleet with its embedded broker');
    await tap.start((filter, on) => broker.subscribe(filter, on));
    rollouts = repo === null ? null : await RolloutPlay.prepare({ steps: scenario.rollouts, repo, apiUrl: fleet.endpoints.localApiUrl, tokenFile: fleet.endpoints.operatorTokenFile, seed: scenario.seed, training: fleetModelTraining(scenario.gateways.flatMap((g) => (g.mcu === null ? [] : [g.mcu.rateHz])), durationMs), say });
    const consoleUrl = `${fleet.endpoints.apiUrl}/`;
    say(`fleet: console ${consoleUrl} (sign in with the operator token in ${fleet.endpoints.operatorTokenFile}); data ${dataDir}`);

    const plugins = builtinRegistry();
    const meter = new RunMeter();
    await meter.beforeGateways(options.idleBaselineMs ?? 0);
    display.phase('start', ids.length, 'gateways');
    // Started a few at a time: a gateway's start is mostly waiting (its store opening, its broker
    // connection, a child process coming up), and a plant of hundreds started one by one took minutes.
    const todo = scenario.gateways.flatMap((group) => groupIds(group).map((id) => ({ id, group })));
    const started = new Map<string, SimGateway>();
    let nextToStart = 0;
    let failure: unknown;
    const starter = async (): Promise<void> => {
      while (failure === undefined && nextToStart < todo.length) {
        const index = nextToStart++;
        const { id, group } = todo[index] as (typeof todo)[number];
        try {
          started.set(id, await startSimGateway(id, index, group, { dir: join(dataDir, 'gateways'), fleet: fleet.registry, brokerUrl: fleet.endpoints.brokerUrl, plugins: cast?.byzantine.has(id) === true ? byzantinePlugins(plugins, scenario.seed + index, cast.poisoned.get(id)) : plugins, logger: logger.child({ part: 'gateway' }), seed: scenario.seed, repo, subscribe: (filter, on) => broker.subscribe(filter, on), learners: cast?.learners }));
          display.tick(started.size, id);
        } catch (err) {
          failure ??= err;
        }
      }
    };
    await Promise.all(Array.from({ length: START_CONCURRENCY }, starter));
    // In the scenario's order (the scorecard's and the faults' order), whichever finished first.
    for (const { id } of todo) {
      const g = started.get(id);
      if (g !== undefined) gateways.set(id, g);
    }
    if (failure !== undefined) throw failure;
    const processes = [...gateways.values()].filter((g) => g.process !== null).length;
    say(`gateways: ${gateways.size} started (${gateways.size - processes} in-process, ${processes} as processes)`);

    // The run's clock starts once every gateway is up; scenario times count from here.
    const runStartMs = Date.now();
    meter.start();
    for (const g of gateways.values()) g.camera?.play();
    const played: PlayedDisruption[] = [];
    rollouts?.start(runStartMs);
    learning = cast === null ? null : new LearningPlay({ step: cast.step, scenarioName: scenario.name, model: FLEET_MODEL, learners: [...cast.learners], byzantine: [...cast.byzantine], learnerGroups: cast.learnerGroups, fleetDataDir: join(dataDir, 'fleet'), apiUrl: fleet.endpoints.localApiUrl, durationMs, repo, poisoned: cast.poisoned, say });
    learning?.start(runStartMs);
    const actions = faultActions(scenario, gateways, durationMs, played);
    const liveCounts = (): string => {
      const alerts = [...tap.gateways.values()].reduce((n, g) => n + g.alerts, 0);
      return `${tap.totalRecords} records delivered, ${alerts} alerts`;
    };
    display.phase('run', durationMs / 1000, 's');
    let next = 0;
    const background: Promise<void>[] = [];
    for (;;) {
      const t = Date.now() - runStartMs;
      while (next < actions.length && (actions[next] as Action).atMs <= t) {
        const a = actions[next] as Action;
        say(`${(t / 1000).toFixed(1)} s: fault ${a.what}`);
        meter.played(runStartMs + a.atMs, Date.now());
        if (a.background === true) background.push(Promise.resolve(a.run()));
        else await a.run();
        next += 1;
      }
      display.tick(Math.min(t, durationMs) / 1000, liveCounts());
      if (t >= durationMs && next >= actions.length) break;
      const wake = Math.min(runStartMs + durationMs, next < actions.length ? runStartMs + (actions[next] as Action).atMs : Infinity);
      await sleep(Math.max(1, Math.min(250, wake - Date.now())));
    }
    // A gateway still restarting must be up to take the MCU's last samples.
    await Promise.all(background);
    // A rollout still going at the run's end gets a little longer to settle, then is scored as it stands.
    const rolloutsSeen = (await rollouts?.finish(ROLLOUT_SETTLE_MS)) ?? null;
    const runEndMs = Date.now();
    const footprint = await meter.stop();
    // The belts keep moving until each vision stage has ended the tracks of the parts that left by now.
    await settleCameras(gateways.values(), runEndMs, say);

    // Sources stop: the MCUs stop sampling and send what they hold until the gateways committed
    // it (a sample still in an MCU's buffer would count as missing), then the gateways' own sources.
    const mcuTruth = new Map<string, { produced: number; boot: number }>();
    const mcus = [...gateways.values()].flatMap((g) => (g.mcu === null ? [] : [{ id: g.id, mcu: g.mcu }]));
    for (const { mcu } of mcus) mcu.stopSampling();
    if (!(await until(() => mcus.every(({ mcu }) => mcu.counters.bufferedSamples === 0), 10_000, 20))) say('MCUs: samples left uncommitted after 10 s (they count as missing)');
    for (const { id, mcu } of mcus) {
      await mcu.stop();
      mcuTruth.set(id, { produced: mcu.counters.samplesTaken, boot: mcu.counters.bootId });
    }
    for (const g of gateways.values()) await g.stopSources();
    say(`${durationMs / 1000} s: sources stopped; draining the outboxes`);
    const drainTimeoutMs = options.drainTimeoutMs ?? 60_000;
    const pending = async (): Promise<number> => (await Promise.all([...gateways.values()].map((g) => g.pendingRecords()))).reduce<number>((n, p) => n + (p ?? 1), 0);
    const pendingAtStop = await pending();
    display.phase('drain', pendingAtStop, 'records');
    const drained = await until(async () => {
      const left = await pending();
      display.tick(pendingAtStop - left, liveCounts());
      return left === 0;
    }, drainTimeoutMs);
    if (!drained) say(`outboxes not drained after ${drainTimeoutMs / 1000} s: what is left counts as pending`);
    // The fleet stores each alert it received (ingest batches its writes): wait until it holds them all.
    const alertsAtBroker = [...tap.gateways.values()].reduce((n, g) => n + g.alerts, 0);
    await until(async () => (await fleet.events.query({ kind: 'alert', limit: alertsAtBroker + 1 })).length >= alertsAtBroker, 10_000);

    // The learning rounds close by their deadlines (inside the run): what the fleet's API reports of them.
    const learningRounds = (await learning?.finish()) ?? [];
    display.phase('score', 1, 'scorecard');
    const truth = collectTruth({ scenario, ids, gateways, mcuTruth, runStartMs, runEndMs, durationMs, disruptions: played, ...(rolloutsSeen === null ? {} : { rollouts: rolloutsSeen.expectations }) });
    const obs = await collectObservations({ ids, gateways, tap, events: fleet.events, startedMs: runStartMs, endedMs: Date.now(), learning: learningRounds, ...(rolloutsSeen === null ? {} : { rollouts: rolloutsSeen.observations }) });
    const card = score(truth, obs, scenario);
    const table = renderTable(card);
    const report = await writeScorecard(reportDir, card);
    const result: RunResult = { card, line: scorecardLine(card), table, report, consoleUrl, dataDir, footprint, gatewayCount: gateways.size };
    display.done();
    if (options.beforeFleetStops !== undefined) {
      for (const g of gateways.values()) await g.stop();
      gateways.clear();
      await options.beforeFleetStops(result);
    }
    return result;
  } finally {
    display.done();
    rollouts?.stop();
    learning?.stop();
    await tap.stop().catch(() => undefined);
    for (const g of gateways.values()) await g.stop();
    await fleet.stop();
    await repo?.stop();
  }
}
