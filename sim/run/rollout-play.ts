import { readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import type { RolloutStep } from '../scenario/types.js';
import { rolloutFromStatus, type RolloutExpectation, type RolloutObservation } from '../score/index.js';
import { publishFleetModel, trainFleetModel, type FleetModelTraining } from './fleet-model.js';
import type { SimRepo } from './sim-repo.js';

/**
 * A gateway told of a release that has not answered within this long counts as timed out (the
 * API's default is 30 minutes): a run lasts a minute or two, and an update here takes a second or two.
 */
export const ROLLOUT_GATEWAY_TIMEOUT_MS = 20_000;
/** How often the play reads each rollout's status for its progress lines. */
const WATCH_EVERY_MS = 500;
/**
 * Longest the play waits at a step's time for the rollout's gateways (every wave's) to be online. The
 * fleet judges a wave of which nobody could be told as failed at once (its `reached` gate: no
 * evidence is no pass), so a rollout created while its canary is cut off (default.yaml's good
 * release at 35 s, in the broker outage of 30 to 38 s, with reconnects backing off up to 8 s
 * more) would stop without a gateway having seen the release. An operator waits for the
 * gateways to be back; so does the play, saying so, for at most this long, then creates it anyway.
 */
export const CANARY_WAIT_MS = 20_000;

/** What the play needs of the run. */
export interface RolloutPlayOptions {
  readonly steps: readonly RolloutStep[];
  readonly repo: SimRepo;
  /** The fleet's API as a client on this machine reaches it, and its operator token file. */
  readonly apiUrl: string;
  readonly tokenFile: string;
  readonly seed: number;
  /** What the fleet model is trained on: the run's MCU rates and how long its motors run (fleet-model.ts). */
  readonly training: FleetModelTraining;
  readonly say: (line: string) => void;
}

interface Played {
  readonly step: RolloutStep;
  readonly index: number;
  readonly target: string;
  id: string | null;
  /** Events already said (the rollout's events by seq). */
  seenSeq: number;
  settled: boolean;
  /** The bad release's rollout was stopped at its gate and then aborted by the play. */
  aborted: boolean;
  /** Each wave's gateways, as the fleet's preview planned them (the same plan as the rollout's: keyed by the release). */
  waves: string[][];
  /** Why the failed wave's gateways failed, as they reported it (`gw: step: reason`). */
  failures: string[];
  error: string | null;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * The scenario's rollouts, played on the run's fleet as an operator would: before the run the
 * fleet model is trained and each step's release published to the run's TUF repository (a
 * `bad` one with a golden output its model does not give); at each step's time a rollout is
 * created through the fleet's own API (POST /v1/rollouts: the step's waves and selector,
 * default health gates, a gateway timeout of ROLLOUT_GATEWAY_TIMEOUT_MS) and watched, each
 * decision said as a progress line. A bad release's rollout that stopped at a gate is aborted,
 * as an operator would once the canary refused it (the gateways keep what they ran): a paused
 * rollout of the model would keep a later one (a learning round's model) from going out.
 * At the end each rollout's status is the scorecard's observation.
 */
export class RolloutPlay {
  private readonly played: Played[] = [];
  private timers: NodeJS.Timeout[] = [];
  private watching: Promise<void> | undefined;
  private stopped = false;
  private runStartMs = 0;
  private token: string | undefined;

  private constructor(private readonly o: RolloutPlayOptions) {}

  /** Trains the fleet model and publishes every step's release (release n for step n, in the scenario's order). */
  static async prepare(o: RolloutPlayOptions): Promise<RolloutPlay> {
    const play = new RolloutPlay(o);
    if (o.steps.length === 0) return play;
    const model = await trainFleetModel(o.seed, o.training);
    for (const [i, step] of o.steps.entries()) {
      const target = await publishFleetModel(o.repo, model, i + 1, step.release === 'bad');
      play.played.push({ step, index: i, target, id: null, seenSeq: 0, settled: false, aborted: false, waves: [], failures: [], error: null });
    }
    return play;
  }

  /** Schedules each rollout at its time from `runStartMs` and starts watching them. */
  start(runStartMs: number): void {
    this.runStartMs = runStartMs;
    for (const p of this.played) {
      this.timers.push(setTimeout(() => void this.create(p), Math.max(0, runStartMs + p.step.atMs - Date.now())));
    }
    if (this.played.length > 0) this.watching = this.watch();
  }

  private at(): string {
    return `${((Date.now() - this.runStartMs) / 1000).toFixed(1)} s`;
  }

  private async call(method: string, path: string, body?: unknown): Promise<{ status: number; body: unknown }> {
    this.token ??= (await readFile(this.o.tokenFile, 'utf8')).trim();
    const token = this.token;
    const res = await fetch(`${this.o.apiUrl}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(10_000),
    });
    return { status: res.status, body: (await res.json()) as unknown };
  }

  /** The body of POST /v1/rollouts for a step. */
  static requestBody(step: RolloutStep, target: string, index: number): Record<string, unknown> {
    return {
      name: `sim ${step.release} release (step ${index + 1})`,
      target,
      selector: step.selector === null ? { kind: 'all' } : { kind: 'labels', selector: step.selector },
      waves: step.waves,
      gatewayTimeoutMs: ROLLOUT_GATEWAY_TIMEOUT_MS,
    };
  }

  private async create(p: Played): Promise<void> {
    if (this.stopped) return;
    try {
      const body = RolloutPlay.requestBody(p.step, p.target, p.index);
      const preview = await this.call('POST', '/v1/rollouts/preview', body);
      if (preview.status === 200 && isObject(preview.body) && Array.isArray(preview.body['waves'])) {
        p.waves = preview.body['waves'].map((w) => (isObject(w) && Array.isArray(w['gateways']) ? w['gateways'].filter((g): g is string => typeof g === 'string') : []));
      }
      await this.waitForTargets(p);
      if (this.stopped) return;
      const r = await this.call('POST', '/v1/rollouts', body);
      const id = isObject(r.body) && isObject(r.body['rollout']) ? r.body['rollout']['id'] : undefined;
      if (r.status !== 201 || typeof id !== 'string') throw new Error(`the fleet refused it (${r.status}): ${JSON.stringify(r.body).slice(0, 300)}`);
      p.id = id;
      this.o.say(`${this.at()}: rollout of the ${p.step.release} release ${p.target} created (${id}, selector ${p.step.selector ?? 'all'}; canary ${p.waves[0]?.join(', ') || '?'})`);
    } catch (err) {
      p.error = (err as Error).message;
      p.settled = true;
      this.o.say(`${this.at()}: rollout of the ${p.step.release} release not created: ${p.error}`);
    }
  }

  /**
   * Waits (at most CANARY_WAIT_MS) until every gateway the rollout selects is online, saying so
   * when it has to: every wave, not only the canary. A later wave whose gateways are all still
   * reconnecting when it starts fails its `reached` gate just as the canary's would (a fresh run
   * saw the good release pause at wave 2: the canary was back from the broker outage, the other
   * motor still in its reconnect backoff 3.8 s after the outage ended).
   */
  private async waitForTargets(p: Played): Promise<void> {
    const targets = p.waves.flat();
    const offline = async (): Promise<string[]> => {
      const out: string[] = [];
      for (const gw of targets) {
        const r = await this.call('GET', `/v1/gateways/${encodeURIComponent(gw)}`);
        if (!isObject(r.body) || r.body['online'] !== true) out.push(gw);
      }
      return out;
    };
    let away = await offline();
    if (away.length === 0) return;
    this.o.say(`${this.at()}: rollout of the ${p.step.release} release waits for its gateways (${away.join(', ')} offline)`);
    const deadline = Date.now() + CANARY_WAIT_MS;
    while (away.length > 0 && Date.now() < deadline && !this.stopped) {
      await sleep(WATCH_EVERY_MS);
      away = await offline();
    }
    if (away.length > 0) this.o.say(`${this.at()}: gateways still offline after ${CANARY_WAIT_MS / 1000} s (${away.join(', ')}); the rollout is created anyway`);
  }

  /** One line per rollout decision (wave started, gate failed, completed, ...), until every rollout settles or the play stops. */
  private async watch(): Promise<void> {
    while (!this.stopped && !this.played.every((p) => p.settled)) {
      for (const p of this.played) {
        if (p.id === null || p.settled) continue;
        await this.step(p).catch((err: unknown) => this.o.say(`${this.at()}: rollout ${p.id}: status unreadable: ${(err as Error).message}`));
      }
      await sleep(WATCH_EVERY_MS);
    }
  }

  private async step(p: Played): Promise<void> {
    const r = await this.call('GET', `/v1/rollouts/${p.id}`);
    if (r.status !== 200 || !isObject(r.body)) throw new Error(`GET answered ${r.status}`);
    const events = Array.isArray(r.body['events']) ? r.body['events'].filter(isObject) : [];
    for (const e of events) {
      const seq = typeof e['seq'] === 'number' ? e['seq'] : 0;
      if (seq <= p.seenSeq) continue;
      p.seenSeq = seq;
      this.o.say(`${this.at()}: rollout ${p.step.release} (${p.id}): ${describeEvent(String(e['kind']), isObject(e['detail']) ? e['detail'] : {})}`);
    }
    const seen = rolloutFromStatus(r.body, `rollout ${p.id}`);
    if (seen.state === 'completed' || seen.state === 'aborted') p.settled = true;
    else if (seen.state === 'paused') {
      p.settled = true;
      if (seen.gateFailedAtWave !== null) {
        p.failures = await this.failures(p, seen.gateFailedAtWave);
        for (const f of p.failures) this.o.say(`${this.at()}: rollout ${p.step.release} (${p.id}): ${f}`);
      }
      if (p.step.release === 'bad' && seen.gateFailedAtWave !== null) {
        // The operator's part: the canary refused it; stop it for good (nobody installed it).
        const a = await this.call('POST', `/v1/rollouts/${p.id}/abort`);
        p.aborted = a.status === 200;
        this.o.say(`${this.at()}: rollout bad (${p.id}): ${p.aborted ? 'aborted after its gate failed' : `abort refused (${a.status})`}`);
      }
    }
  }

  /** What each gateway of a failed wave reported of the release's update steps that did not go well (at most 5). */
  private async failures(p: Played, wave: number): Promise<string[]> {
    const out: string[] = [];
    for (const gw of (p.waves[wave] ?? []).slice(0, 5)) {
      const r = await this.call('GET', `/v1/gateways/${encodeURIComponent(gw)}`);
      const steps = isObject(r.body) && Array.isArray(r.body['updateSteps']) ? r.body['updateSteps'].filter(isObject) : [];
      const bad = steps.find((x) => x['target'] === p.target && x['outcome'] !== 'ok');
      if (bad !== undefined) out.push(`${gw}: ${String(bad['step'])} ${String(bad['outcome'])}: ${String(bad['reason'] ?? '')}`.slice(0, 300));
    }
    return out;
  }

  /** Creates no more rollouts and stops watching (a run that ends early: its finally). */
  stop(): void {
    this.stopped = true;
    for (const t of this.timers) clearTimeout(t);
  }

  /**
   * Waits (at most `timeoutMs`) for the rollouts still going to settle, stops watching, and
   * returns what was expected and what the fleet's rollout store says of each.
   */
  async finish(timeoutMs: number): Promise<{ expectations: RolloutExpectation[]; observations: RolloutObservation[] }> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline && !this.played.every((p) => p.settled || p.id === null)) await sleep(WATCH_EVERY_MS);
    this.stop();
    await this.watching;
    const expectations: RolloutExpectation[] = [];
    const observations: RolloutObservation[] = [];
    for (const p of this.played) {
      expectations.push({ rolloutId: p.id ?? `not-created-${p.index + 1}`, release: p.step.release, stopAtWave: 0 });
      if (p.id === null) continue;
      const r = await this.call('GET', `/v1/rollouts/${p.id}`);
      const seen = rolloutFromStatus(r.body, `rollout ${p.id}`);
      // The abort is the play's own step after the gate stopped it: the reason stays the gate's.
      const why = p.failures.length === 0 ? '' : ` (${p.failures.join('; ')})`;
      observations.push(p.aborted ? { ...seen, reason: `gate failed at wave ${(seen.gateFailedAtWave ?? 0) + 1}${why}; then aborted` } : seen);
    }
    return { expectations, observations };
  }
}

/** A rollout event in a few words. */
export function describeEvent(kind: string, d: Readonly<Record<string, unknown>>): string {
  const wave = typeof d['wave'] === 'number' ? ` ${d['wave'] + 1}` : '';
  if (kind === 'created') return `created for ${String(d['gateways'])} gateways, waves of ${Array.isArray(d['perWave']) ? d['perWave'].join(', ') : '?'}`;
  if (kind === 'wave-started') return `wave${wave} started`;
  if (kind === 'notified') return `wave${wave}: ${String(d['gateways'])} gateways told${d['rollback'] === true ? ' to switch back' : ''}`;
  if (kind === 'wave-passed') {
    const t = isObject(d['tally']) ? d['tally'] : {};
    return `wave${wave} passed its gates (${String(t['active'])} of ${String(t['total'])} run the release)`;
  }
  if (kind === 'gate-failed') {
    const gates = Array.isArray(d['gates']) ? d['gates'].filter(isObject).filter((g) => g['pass'] === false) : [];
    return `gate failed at wave${wave}: ${gates.map((g) => `${String(g['gate'])} ${String(g['count'])} of the wave (limit ${(Number(g['limit']) * 100).toFixed(0)}%)`).join(', ') || 'see its status'}`;
  }
  return kind;
}
