import { createHash } from 'node:crypto';
import { mkdir, readFile, rm, stat, statfs } from 'node:fs/promises';
import { join } from 'node:path';
import type { TargetFile } from '@tufjs/models';
import { parseModelRelease, type ModelRelease } from '../../fleet/protocol/model-release.js';
import type { ShadowSpec, ShadowSummary } from '../../fleet/protocol/update.js';
import type { InferenceBackend } from '../../models/engine/engine.js';
import { ModelSlots, slotsBytes, writeJsonDurable, type ActiveModel } from './slots.js';
import { TrustError, type TrustClient } from './trust.js';

export type UpdateStep = 'refresh' | 'check' | 'download' | 'install' | 'health' | 'shadow' | 'activate' | 'probation' | 'rollback';

/** One step of an update and how it went: the gateway publishes these to the fleet. */
export interface UpdateReport {
  readonly model: string | null;
  readonly target: string;
  readonly release: number | null;
  readonly version: string | null;
  readonly step: UpdateStep;
  readonly outcome: 'ok' | 'refused' | 'failed';
  /** What was wrong, in words, with a stable code first. */
  readonly reason: string | null;
  readonly ts: number;
  /** Only on a `shadow` step that ran: how the candidate compared. */
  readonly shadow?: ShadowSummary;
}

/** Runs a verified candidate beside the active model (the stages' shadow runs) and says how it compared. */
export type ShadowRunner = (model: string, candidate: { bytes: Uint8Array; ref: { name: string; version: string; hash: string }; release: number }, spec: ShadowSpec) => Promise<ShadowSummary>;

export interface ModelUpdaterOptions {
  readonly dataDir: string;
  readonly trust: TrustClient;
  readonly backend: InferenceBackend;
  /** Providers the health check loads a release on; undefined: the backend's. */
  readonly providers?: readonly string[] | undefined;
  readonly runtimeVersion: string;
  readonly arch?: string;
  /** Free space kept beyond what a download needs (bytes). */
  readonly diskMarginBytes?: number;
  /** The gateway's storage budget (store.maxSizeBytes): model slots may take at most half of it. */
  readonly storageBudgetBytes?: number;
  readonly report: (r: UpdateReport) => void;
  readonly now?: () => number;
  /** Where candidates run in shadow; without it a shadow request is refused. */
  readonly shadow?: ShadowRunner;
}

/** An update that was refused or failed: `step` and the reason say where and why. */
export class UpdateRefused extends Error {
  override readonly name = 'UpdateRefused';
  constructor(
    readonly step: UpdateStep,
    readonly code: string,
    message: string,
  ) {
    super(`${code}: ${message}`);
  }
}

function newer(a: string, b: string): boolean {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < 3; i += 1) if ((pa[i] ?? 0) !== (pb[i] ?? 0)) return (pa[i] ?? 0) > (pb[i] ?? 0);
  return false;
}

interface Probation {
  /** The release on probation: restored only while it is still the active one. */
  readonly release: number;
  readonly until: number;
  readonly budgets: ModelRelease['budgets'];
  runs: number;
  errors: number;
  slow: number;
}

/** Golden runs the health check may time before it calls a model too slow (it keeps the fastest). */
const LATENCY_TRIES = 3;
/** Runs in probation before the budgets are judged (fewer say little). */
const PROBATION_MIN_RUNS = 20;
/** Share of runs allowed over the latency budget. */
const PROBATION_SLOW_SHARE = 0.05;
/** An evaluation set is held in memory while the stages score it: at most this large. */
const MAX_EVALUATION_SET_BYTES = 96 * 1024 * 1024;

/**
 * The gateway's model updater: only a model the fleet's TUF repository signed, of a release
 * newer than any accepted for that model, for this hardware and runtime, that loads and
 * answers its golden input correctly and in time, is activated, atomically, in an A/B slot;
 * the previous one stays for rollback, and probation switches back on a budget breach.
 */
export class ModelUpdater {
  private readonly probations = new Map<string, Probation>();
  private probationWrite: Promise<void> | undefined;
  private probationDirty = false;

  constructor(private readonly o: ModelUpdaterOptions) {}

  private probationPath(): string {
    return join(this.o.dataDir, 'updates', 'probation.json');
  }

  /**
   * Writes every probation (release, end, budgets, counts so far) durably. Writes coalesce:
   * at most one in flight and one waiting, and the promise settles once a write that holds
   * the state as of this call is on disk.
   */
  private persistProbations(): Promise<void> {
    this.probationDirty = true;
    this.probationWrite ??= (async () => {
      try {
        while (this.probationDirty) {
          this.probationDirty = false;
          await writeJsonDurable(this.probationPath(), Object.fromEntries(this.probations));
        }
      } finally {
        this.probationWrite = undefined;
      }
    })();
    return this.probationWrite;
  }

  /**
   * Picks up the probations a previous process left (a restart inside the window continues it,
   * with the runs counted so far). A probation whose release is no longer active is dropped.
   * Returns what was resumed.
   */
  async restoreProbations(): Promise<{ model: string; release: number; until: number; runs: number; errors: number; slow: number }[]> {
    let stored: Record<string, unknown>;
    try {
      stored = JSON.parse(await readFile(this.probationPath(), 'utf8')) as Record<string, unknown>;
    } catch {
      return []; // none, or unreadable (written durably, so only a damaged disk): nothing to continue
    }
    const resumed: { model: string; release: number; until: number; runs: number; errors: number; slow: number }[] = [];
    for (const [model, v] of Object.entries(stored ?? {})) {
      const p = v as Partial<Probation> | null;
      const counts = [p?.release, p?.until, p?.runs, p?.errors, p?.slow];
      const b = p?.budgets;
      if (!counts.every((n) => typeof n === 'number' && Number.isFinite(n)) || typeof b?.latencyMs !== 'number' || typeof b.errorRatePpm !== 'number') continue;
      const active = await this.slots(model).active().catch(() => undefined);
      if (active?.release !== p?.release) continue;
      const probation = p as Probation;
      this.probations.set(model, { release: probation.release, until: probation.until, budgets: probation.budgets, runs: probation.runs, errors: probation.errors, slow: probation.slow });
      resumed.push({ model, release: probation.release, until: probation.until, runs: probation.runs, errors: probation.errors, slow: probation.slow });
    }
    if (resumed.length !== Object.keys(stored ?? {}).length) await this.persistProbations();
    return resumed;
  }

  private now(): number {
    return this.o.now?.() ?? Date.now();
  }

  private acceptedPath(): string {
    return join(this.o.dataDir, 'updates', 'accepted.json');
  }

  /** Highest release counter accepted per model: kept across restarts, so an older release is refused even when validly signed. */
  async accepted(): Promise<Record<string, number>> {
    try {
      return JSON.parse(await readFile(this.acceptedPath(), 'utf8')) as Record<string, number>;
    } catch {
      return {};
    }
  }

  slots(model: string): ModelSlots {
    return new ModelSlots(this.o.dataDir, model);
  }

  /** Installs and activates the model release at `target`, or says why not. The active model keeps serving either way. */
  async update(target: string): Promise<ActiveModel> {
    const { r, bytes, golden, step } = await this.verified(target);
    const slots = this.slots(r.model);
    const slot = await step('install', () => slots.install(bytes, { release: r.release, version: r.version }));
    await step('health', () => this.healthCheck(bytes, r, ...golden));
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    const active = await step('activate', async () => {
      // The probation is on disk before the switch: a crash right after it still judges the release
      // (a probation whose release did not become active is dropped at restore).
      if (r.budgets.probationS > 0) {
        this.probations.set(r.model, { release: r.release, until: this.now() + r.budgets.probationS * 1000, budgets: r.budgets, runs: 0, errors: 0, slow: 0 });
      } else {
        this.probations.delete(r.model);
      }
      await this.persistProbations();
      try {
        const a = await slots.activate(slot, { release: r.release, version: r.version, sha256 }, this.now());
        await writeJsonDurable(this.acceptedPath(), { ...(await this.accepted()), [r.model]: r.release });
        return a;
      } catch (err) {
        if (this.probations.get(r.model)?.release === r.release) this.probations.delete(r.model);
        await this.persistProbations().catch(() => undefined);
        throw err;
      }
    });
    return active;
  }

  /**
   * Runs the release at `target` in shadow: checked, downloaded and health-checked exactly as
   * for an update, then run beside the active model on the same inputs (see ShadowRunner);
   * the `shadow` step's report carries how it compared. Nothing is installed or activated,
   * and the slots (the rollback model included) stay as they are.
   */
  async shadow(target: string, spec: ShadowSpec): Promise<ShadowSummary> {
    const { r, bytes, golden, evaluation, step, report } = await this.verified(target, true);
    await step('health', () => this.healthCheck(bytes, r, ...golden));
    const runner = this.o.shadow;
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    let summary: ShadowSummary | undefined;
    await step(
      'shadow',
      async () => {
        if (runner === undefined) throw new UpdateRefused('shadow', 'E_UPDATE_SHADOW', 'this gateway runs no stages that could run a candidate in shadow');
        summary = await runner(r.model, { bytes, release: r.release, ref: { name: r.model, version: r.version, hash: `sha256:${sha256}` }, ...(evaluation === undefined ? {} : { evaluation }) }, spec);
      },
      true,
    );
    report('shadow', 'ok', null, summary);
    return summary as ShadowSummary;
  }

  /** Refresh, check and download: the release's signed description and its verified bytes (and its evaluation set, for a shadow run), and the reporting of the steps to come. */
  private async verified(
    target: string,
    withEvaluation = false,
  ): Promise<{
    r: ModelRelease;
    bytes: Uint8Array;
    /** The golden input and output. */
    golden: [Uint8Array, Uint8Array];
    /** The release's labelled evaluation set, when it has one and it was asked for. */
    evaluation: Uint8Array | undefined;
    step: <T>(name: UpdateStep, f: () => Promise<T>, quietOk?: boolean) => Promise<T>;
    report: (name: UpdateStep, outcome: UpdateReport['outcome'], reason: string | null, shadow?: ShadowSummary) => void;
  }> {
    let release: ModelRelease | undefined;
    const report = (name: UpdateStep, outcome: UpdateReport['outcome'], reason: string | null, shadow?: ShadowSummary): void => {
      // A report that cannot be delivered must not turn a done step into a failed one.
      try {
        this.o.report({ model: release?.model ?? null, target, release: release?.release ?? null, version: release?.version ?? null, step: name, outcome, reason, ts: this.now(), ...(shadow === undefined ? {} : { shadow }) });
      } catch {
        // reported nowhere: the step itself stands
      }
    };
    const step = async <T>(name: UpdateStep, f: () => Promise<T>, quietOk = false): Promise<T> => {
      let v: T;
      try {
        v = await f();
      } catch (err) {
        const refused = err instanceof UpdateRefused || err instanceof TrustError || (err as { code?: string }).code === 'E_PAYLOAD_INVALID';
        const code = (err as { code?: string }).code ?? 'E_UPDATE';
        report(name, refused ? 'refused' : 'failed', err instanceof UpdateRefused ? err.message : `${code}: ${(err as Error).message}`);
        throw err instanceof UpdateRefused ? err : new UpdateRefused(name, code, (err as Error).message);
      }
      if (!quietOk) report(name, 'ok', null);
      return v;
    };
    const trust = this.o.trust;
    await step('refresh', () => trust.refresh());
    const info = await step('check', async () => {
      const i = await trust.target(target);
      release = parseModelRelease(i.custom, target);
      await this.check(release, i);
      return i;
    });
    const r = release as ModelRelease;
    const downloads = join(this.o.dataDir, 'updates', 'downloads');
    const { bytes, input, output, evaluation } = await step('download', async () => {
      await mkdir(downloads, { recursive: true });
      const file = async (t: TargetFile): Promise<Uint8Array> => {
        const got = await trust.download(t, join(downloads, encodeURIComponent(t.path)));
        // Read once, hash what was read, and use exactly those bytes: nothing can swap the file in between.
        const b = await readFile(got.path);
        const sha = createHash('sha256').update(b).digest('hex');
        if (sha !== t.hashes['sha256']) throw new UpdateRefused('download', 'E_TRUST_HASH', `${t.path} changed on disk after verification`);
        return b;
      };
      const evaluationSet = async (): Promise<Uint8Array | undefined> => {
        if (!withEvaluation || r.evaluation === undefined) return undefined;
        const t = await trust.target(r.evaluation.set);
        if (t.length > MAX_EVALUATION_SET_BYTES) throw new UpdateRefused('download', 'E_UPDATE_EVALUATION', `${t.path} is ${t.length} bytes; an evaluation set is held in memory and may have at most ${MAX_EVALUATION_SET_BYTES}`);
        return file(t);
      };
      return { bytes: await file(info), input: await file(await trust.target(r.golden.input)), output: await file(await trust.target(r.golden.output)), evaluation: await evaluationSet() };
    });
    // The downloaded copies are not kept: the slot holds the model from here on (bounded disk).
    await rm(downloads, { recursive: true, force: true });
    return { r, bytes, golden: [input, output], evaluation, step, report };
  }

  /**
   * Switches back from the release at `target` to the one this gateway ran before, because the
   * fleet said so (it stopped a rollout). Only when that release is active; the standby slot
   * must still hold what it held. The release stays accepted: it is not installed again.
   */
  async revert(target: string): Promise<ActiveModel> {
    const m = /^models\/([a-z0-9][a-z0-9._-]{0,63})\/(\d{1,15})\/model\.onnx$/.exec(target);
    const report = (model: string | null, release: number | null, version: string | null, outcome: UpdateReport['outcome'], reason: string | null): void => {
      try {
        this.o.report({ model, target, release, version, step: 'rollback', outcome, reason, ts: this.now() });
      } catch {
        // reported nowhere: the switch itself stands
      }
    };
    if (m === null) {
      report(null, null, null, 'refused', `E_UPDATE_PATH: ${target} is not a model release path (models/<model>/<release>/model.onnx)`);
      throw new UpdateRefused('rollback', 'E_UPDATE_PATH', `${target} is not a model release path`);
    }
    const model = m[1] as string;
    const release = Number(m[2]);
    const slots = this.slots(model);
    const active = await slots.active();
    if (active?.release !== release) {
      const why = `${model} release ${release} is not active here (active: ${active === undefined ? 'none' : `release ${active.release}`}); nothing to switch back from`;
      report(model, release, null, 'refused', `E_UPDATE_NOT_ACTIVE: ${why}`);
      throw new UpdateRefused('rollback', 'E_UPDATE_NOT_ACTIVE', why);
    }
    let back: ActiveModel;
    try {
      back = await slots.rollback(this.now());
    } catch (err) {
      report(model, release, active.version, 'failed', `E_UPDATE_ROLLBACK_FAILED: ${(err as Error).message}`);
      throw new UpdateRefused('rollback', 'E_UPDATE_ROLLBACK_FAILED', (err as Error).message);
    }
    if (this.probations.delete(model)) await this.persistProbations().catch(() => undefined);
    report(model, back.release, back.version, 'ok', `switched back from release ${release} on the fleet's word`);
    return back;
  }

  private async check(r: ModelRelease, info: TargetFile): Promise<void> {
    // The path says which model and release this is: a role trusted for one folder cannot
    // sign a release of another model (nor push that model's counter to the top).
    const base = `models/${r.model}/${r.release}`;
    if (info.path !== `${base}/model.onnx` || !r.golden.input.startsWith(`${base}/`) || !r.golden.output.startsWith(`${base}/`) || (r.evaluation !== undefined && !r.evaluation.set.startsWith(`${base}/`))) {
      throw new UpdateRefused('check', 'E_UPDATE_PATH', `${info.path} claims to be ${r.model} release ${r.release}, which lives at ${base}/model.onnx with its golden files and evaluation set beside it`);
    }
    // The active model counts as accepted too: a crash between activation and recording it must not reinstall it.
    const highest = Math.max((await this.accepted())[r.model] ?? 0, (await this.slots(r.model).active())?.release ?? 0);
    if (r.release <= highest) throw new UpdateRefused('check', 'E_UPDATE_ROLLBACK', `${r.model} release ${r.release} is not newer than release ${highest}, already accepted (a deliberate downgrade needs a new release with a higher counter)`);
    const arch = this.o.arch ?? process.arch;
    if (!(r.hardware.arch as readonly string[]).includes(arch)) throw new UpdateRefused('check', 'E_UPDATE_HARDWARE', `${r.model} release ${r.release} is built for ${r.hardware.arch.join(', ')}, this gateway is ${arch}`);
    const providers = await this.o.backend.availableProviders();
    if (!r.hardware.accelerators.some((a) => providers.includes(a))) throw new UpdateRefused('check', 'E_UPDATE_HARDWARE', `${r.model} release ${r.release} needs one of ${r.hardware.accelerators.join(', ')}; this gateway has ${providers.join(', ')}`);
    if (newer(r.minRuntimeVersion, this.o.runtimeVersion)) throw new UpdateRefused('check', 'E_UPDATE_RUNTIME', `${r.model} release ${r.release} needs edgewise ${r.minRuntimeVersion} or newer; this is ${this.o.runtimeVersion}`);
    if (this.o.storageBudgetBytes !== undefined) {
      // The new file replaces what the inactive slot of this model holds now.
      const slots = this.slots(r.model);
      const inactive = await slots.inactive();
      const replaced = (await stat(join(this.o.dataDir, 'models', r.model, inactive, 'model.onnx')).catch(() => undefined))?.size ?? 0;
      const after = (await slotsBytes(this.o.dataDir)) - replaced + info.length;
      if (after > this.o.storageBudgetBytes / 2) throw new UpdateRefused('check', 'E_UPDATE_BUDGET', `model slots would take ${after} bytes, over half of the ${this.o.storageBudgetBytes}-byte storage budget (store.maxSizeBytes)`);
    }
    const fs = await statfs(this.o.dataDir);
    const free = fs.bavail * fs.bsize;
    const need = info.length * 2 + (this.o.diskMarginBytes ?? 64 * 1024 * 1024);
    if (free < need) throw new UpdateRefused('check', 'E_UPDATE_DISK', `${free} bytes free in ${this.o.dataDir}; the download and its slot need ${need}`);
  }

  /** The model loads from the verified bytes, answers the golden input within tolerance, and in time. */
  private async healthCheck(bytes: Uint8Array, r: ModelRelease, input: Uint8Array, expected: Uint8Array): Promise<void> {
    const g = r.golden;
    const count = g.dims.reduce((a, b) => a * b, 1);
    if (input.length !== count * 4) throw new UpdateRefused('health', 'E_UPDATE_GOLDEN', `golden input has ${input.length} bytes, dims ${g.dims.join('x')} need ${count * 4}`);
    const model = await this.o.backend.load(bytes, { providers: this.o.providers });
    try {
      const x = new Float32Array(input.buffer.slice(input.byteOffset, input.byteOffset + input.length));
      const started = performance.now();
      const out = (await model.run({ [g.inputName]: { data: x, dims: g.dims } }))[g.outputName];
      const ms = performance.now() - started;
      if (out === undefined) throw new UpdateRefused('health', 'E_UPDATE_GOLDEN', `the model has no output "${g.outputName}"`);
      const want = new Float32Array(expected.buffer.slice(expected.byteOffset, expected.byteOffset + expected.length));
      if (want.length !== out.data.length) throw new UpdateRefused('health', 'E_UPDATE_GOLDEN', `output has ${out.data.length} values, the golden output ${want.length}`);
      const tolerance = Number.parseFloat(g.tolerance);
      let worst = 0;
      for (let i = 0; i < want.length; i += 1) worst = Math.max(worst, Math.abs((out.data[i] as number) - (want[i] as number)));
      if (!(worst <= tolerance)) throw new UpdateRefused('health', 'E_UPDATE_GOLDEN', `output differs from the golden output by up to ${worst} (tolerance ${g.tolerance})`);
      // One run's time includes any wait of this event loop (a collection, a burst of frames, the
      // pipelines starting), which on a busy gateway can alone pass a tight budget: a model is
      // refused only when each of up to LATENCY_TRIES runs is over budget, and the fastest is reported.
      let fastest = ms;
      for (let i = 1; i < LATENCY_TRIES && fastest > r.budgets.latencyMs; i += 1) {
        const t = performance.now();
        await model.run({ [g.inputName]: { data: x, dims: g.dims } });
        fastest = Math.min(fastest, performance.now() - t);
      }
      if (fastest > r.budgets.latencyMs) throw new UpdateRefused('health', 'E_UPDATE_LATENCY', `the golden run took ${fastest.toFixed(1)} ms at best of ${LATENCY_TRIES} runs, over the ${r.budgets.latencyMs} ms budget`);
    } finally {
      await model.close();
    }
  }

  /**
   * Each inference of an activated model in probation reports here; a breach of the release's
   * budgets (error rate, latency) switches back to the previous model and says why.
   */
  async recordRun(model: string, ok: boolean, ms: number): Promise<ActiveModel | undefined> {
    const p = this.probations.get(model);
    if (p === undefined) return undefined;
    if (this.now() > p.until) {
      this.probations.delete(model);
      const a = await this.slots(model).active();
      this.o.report({ model, target: '', release: a?.release ?? null, version: a?.version ?? null, step: 'probation', outcome: 'ok', reason: null, ts: this.now() });
      await this.persistProbations();
      return undefined;
    }
    p.runs += 1;
    if (!ok) p.errors += 1;
    if (ms > p.budgets.latencyMs) p.slow += 1;
    const errorRate = p.errors / p.runs;
    const slowShare = p.slow / p.runs;
    const breach =
      p.runs < PROBATION_MIN_RUNS
        ? undefined
        : errorRate * 1e6 > p.budgets.errorRatePpm
          ? `error rate ${(errorRate * 100).toFixed(1)}% over ${p.budgets.errorRatePpm / 1e4}%`
          : slowShare > PROBATION_SLOW_SHARE
            ? `${(slowShare * 100).toFixed(0)}% of runs over the ${p.budgets.latencyMs} ms latency budget`
            : undefined;
    if (breach === undefined) {
      // The counts so far survive a restart (coalesced: one write in flight at a time).
      await this.persistProbations();
      return undefined;
    }
    this.probations.delete(model);
    const slots = this.slots(model);
    const failed = await slots.active();
    this.o.report({ model, target: '', release: failed?.release ?? null, version: failed?.version ?? null, step: 'probation', outcome: 'failed', reason: `E_UPDATE_PROBATION: ${breach} after ${p.runs} runs`, ts: this.now() });
    const back = await slots.rollback(this.now());
    this.o.report({ model, target: '', release: back.release, version: back.version, step: 'rollback', outcome: 'ok', reason: `switched back from release ${failed?.release ?? '?'}`, ts: this.now() });
    // After the switch (a disk that cannot take this write must not keep the failing model);
    // a probation left on disk is dropped at restore anyway, its release no longer active.
    await this.persistProbations().catch(() => undefined);
    return back;
  }
}
