import { createHash } from 'node:crypto';
import { access, mkdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { FLEET_RELEASE_TOPIC, decodeReleaseNotice, encodeUpdateReport, gatewayTopics, type ModelReleases, type ShadowSpec, type ShadowSummary } from '../../fleet/protocol/index.js';
import { modelReleaseTarget, parseModelRelease } from '../../fleet/protocol/model-release.js';
import type { InferenceBackend } from '../../models/engine/engine.js';
import type { ComponentEvents } from '../health/events.js';
import type { ManagedModels } from './managed-models.js';
import { installedReleases, slotsBytes } from './slots.js';
import { TrustClient, TrustError, initTrust } from './trust.js';
import { ModelUpdater, UpdateRefused, type UpdateReport, type UpdateStep } from './updater.js';

/** Releases asked for by path above the newest known, per check (a fleet that ran more rounds since is caught up by the next check). */
const MAX_RELEASE_PROBES = 16;

export interface UpdateServiceSettings {
  readonly metadataUrl: string;
  readonly targetBaseUrl: string;
  readonly rootFile: string;
  readonly models: readonly string[];
  readonly checkIntervalMs: number;
  /** Providers the health check loads a release on; undefined: the inference backend's (`inference.providers`). */
  readonly providers: readonly string[] | undefined;
}

/** What the service needs of the uplink: inbound notices and outbound reports. */
export interface UpdateChannel {
  subscribe(topic: string, handler: (payload: Uint8Array) => void): void;
  publishSoon(topic: string, payload: Uint8Array): void;
}

/** Targets waiting for an update attempt at most (notices are deduplicated). */
const MAX_PENDING_TARGETS = 16;

/** Steps after which the slots' pointers may have changed (install can drop the rollback slot). */
const SLOT_STEPS: ReadonlySet<UpdateStep> = new Set(['install', 'activate', 'probation', 'rollback']);

/**
 * Runs the updater inside a gateway: a release notice over MQTT (for this gateway or the whole
 * fleet) or the timer (the newest signed release of each configured model) starts an update;
 * one update at a time; every step is reported to the fleet.
 */
/** One update to attempt: install and activate, or (with `shadow`) only run it in shadow and report. */
interface PendingUpdate {
  readonly target: string;
  readonly shadow?: ShadowSpec;
  /** Switch back from this release (the fleet stopped its rollout). */
  readonly rollback?: true;
}

export class UpdateService {
  private readonly pending: PendingUpdate[] = [];
  /** Ends a shadow run early when the gateway stops. */
  private readonly stopping = new AbortController();
  /** Every refresh and update runs in this one chain: two at once would write the same metadata files. */
  private chain: Promise<void> = Promise.resolve();
  private drainScheduled = false;
  private checkQueued = false;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private updater: ModelUpdater | undefined;
  private lastError: string | null = null;
  private updates = 0;
  private refusals = 0;
  /** The active and standby release per model as last read from disk (the health report is built synchronously). */
  private installed: Readonly<Record<string, ModelReleases>> | undefined;
  /** Reads of the slots run one after another, so the last one read is also the newest. */
  private installedRead: Promise<void> = Promise.resolve();

  constructor(
    private readonly gatewayId: string,
    private readonly dataDir: string,
    private readonly s: UpdateServiceSettings,
    private readonly channel: UpdateChannel,
    private readonly backend: InferenceBackend,
    private readonly runtimeVersion: string,
    private readonly events: ComponentEvents,
    private readonly managed?: ManagedModels,
    /** The storage budget the model slots share with the records, and how to tell the outbox what they use. */
    private readonly storage?: { readonly budgetBytes: number; reserve(bytes: number): void },
  ) {}

  private get metadataDir(): string {
    return join(this.dataDir, 'updates', 'tuf');
  }

  async start(): Promise<void> {
    // First, so the models the gateway serves are reported even when the trust root is broken.
    await this.refreshReleases();
    // The provisioned root is trusted once; after that, only roots TUF accepted are.
    const pinned = await access(join(this.metadataDir, 'root.json')).then(
      () => true,
      () => false,
    );
    if (!pinned) await initTrust(this.metadataDir, this.s.rootFile);
    this.updater = new ModelUpdater({
      dataDir: this.dataDir,
      trust: new TrustClient({ metadataDir: this.metadataDir, metadataUrl: this.s.metadataUrl, targetBaseUrl: this.s.targetBaseUrl, events: this.events }),
      backend: this.backend,
      providers: this.s.providers,
      runtimeVersion: this.runtimeVersion,
      ...(this.storage === undefined ? {} : { storageBudgetBytes: this.storage.budgetBytes }),
      report: (r) => this.report(r),
      ...(this.managed === undefined ? {} : { shadow: (model, candidate, spec) => this.shadow(model, candidate, spec) }),
    });
    await this.reserveSlots();
    // A restart inside a probation window continues it (with the runs counted so far).
    for (const p of await this.updater.restoreProbations()) {
      this.events.info('update.probation_resumed', { model: p.model, release: p.release, remainingS: Math.max(0, Math.round((p.until - Date.now()) / 1000)), runs: p.runs, errors: p.errors, slow: p.slow });
    }
    if (this.managed !== undefined) {
      const updater = this.updater;
      this.managed.onRun = (model, ok, ms) => {
        void updater.recordRun(model, ok, ms).catch((err: unknown) => this.events.error('update.probation_failed', { code: 'E_UPDATE', model, reason: (err as Error).message }));
      };
    }
    const onNotice = (payload: Uint8Array): void => {
      const n = decodeReleaseNotice(payload);
      if (n.rollback === true) this.enqueueRollback(n.target);
      else this.enqueue(n.target, n.shadow);
    };
    this.channel.subscribe(gatewayTopics.releaseNotice(this.gatewayId), onNotice);
    this.channel.subscribe(FLEET_RELEASE_TOPIC, onNotice);
    // One check waits at most: a long download does not pile up a refresh per interval behind it.
    this.timer = setInterval(() => {
      if (this.checkQueued) return;
      this.checkQueued = true;
      this.schedule(async () => {
        this.checkQueued = false;
        await this.checkConfigured();
      });
    }, this.s.checkIntervalMs);
    this.timer.unref();
    this.schedule(() => this.checkConfigured());
  }

  /** A shadow run that the gateway's stopping cuts short is a failed measurement, not a summary of fewer runs. */
  private async shadow(model: string, candidate: Parameters<ManagedModels['shadow']>[1], spec: ShadowSpec): Promise<ShadowSummary> {
    const summary = await (this.managed as ManagedModels).shadow(model, candidate, spec, this.stopping.signal);
    if (this.stopping.signal.aborted && summary.inferences < spec.inferences) {
      throw Object.assign(new Error(`the gateway stopped after ${summary.inferences} of ${spec.inferences} runs`), { code: 'E_UPDATE_SHADOW_INTERRUPTED' });
    }
    return summary;
  }

  stats(): { updates: number; refusals: number; pending: number; lastError: string | null } {
    return { updates: this.updates, refusals: this.refusals, pending: this.pending.length, lastError: this.lastError };
  }

  /**
   * The active and standby (rollback) release of each configured model and each model with
   * slots on disk; `undefined` until the slots were first read (unknown is not "none").
   */
  releases(): Readonly<Record<string, ModelReleases>> | undefined {
    return this.installed;
  }

  /** Re-reads the slots' pointers into the cached copy; resolves when this read is applied. Never rejects. */
  refreshReleases(): Promise<void> {
    this.installedRead = this.installedRead.then(async () => {
      try {
        this.installed = await installedReleases(this.dataDir, this.s.models);
      } catch (err) {
        // The previous copy stays: it was true a moment ago, and the next step reads again.
        this.events.warn('update.releases_unreadable', { code: (err as { code?: string }).code ?? 'E_UPDATE', reason: (err as Error).message });
      }
    });
    return this.installedRead;
  }

  private report(r: UpdateReport): void {
    if (r.outcome !== 'ok') this.events.warn('update.refused', { code: r.reason?.split(':')[0] ?? 'E_UPDATE', target: r.target, step: r.step, reason: r.reason });
    else this.events.info(`update.${r.step}`, { target: r.target, model: r.model, release: r.release });
    this.channel.publishSoon(gatewayTopics.updateReport(this.gatewayId), encodeUpdateReport({ gw: this.gatewayId, ...r }));
    if (r.outcome === 'ok' && (r.step === 'install' || r.step === 'activate')) void this.reserveSlots();
    if (SLOT_STEPS.has(r.step)) void this.refreshReleases();
    // The stages running this model switch to the newly active release.
    if (r.outcome === 'ok' && (r.step === 'activate' || r.step === 'rollback') && r.model !== null) this.managed?.changed(r.model);
  }

  private async reserveSlots(): Promise<void> {
    if (this.storage !== undefined) this.storage.reserve(await slotsBytes(this.dataDir));
  }

  /** The fleet says switch back from `target`: it goes before any update still waiting for the same release. */
  enqueueRollback(target: string): void {
    if (this.stopped) return;
    // An install of the release it is told to leave would undo the rollback; and it goes first.
    for (let i = this.pending.length - 1; i >= 0; i -= 1) if (this.pending[i]?.target === target) this.pending.splice(i, 1);
    if (this.pending.length >= MAX_PENDING_TARGETS) {
      // Full: an update waiting gives way (the newest one, which the fleet will send again), else the oldest rollback.
      let i = this.pending.length - 1;
      while (i >= 0 && this.pending[i]?.rollback === true) i -= 1;
      this.pending.splice(i >= 0 ? i : this.pending.length - 1, 1);
    }
    this.pending.unshift({ target, rollback: true });
    this.push(undefined);
  }

  enqueue(target: string, shadow?: ShadowSpec): void {
    if (this.stopped || this.pending.some((p) => p.target === target && p.rollback !== true && (p.shadow === undefined) === (shadow === undefined))) return;
    this.push(shadow === undefined ? { target } : { target, shadow });
  }

  /** Queues `p` (a full queue drops its oldest update, never a rollback) and makes sure the queue drains. */
  private push(p: PendingUpdate | undefined): void {
    if (p !== undefined) {
      if (this.pending.length >= MAX_PENDING_TARGETS) {
        const oldest = this.pending.findIndex((x) => x.rollback !== true);
        if (oldest >= 0) this.pending.splice(oldest, 1);
      }
      this.pending.push(p);
    }
    if (this.drainScheduled) return;
    this.drainScheduled = true;
    this.schedule(async () => {
      this.drainScheduled = false;
      await this.drain();
    });
  }

  private schedule(task: () => Promise<void>): void {
    this.chain = this.chain.then(task).catch((err: unknown) => {
      this.lastError = (err as Error).message;
    });
  }

  private async drain(): Promise<void> {
    for (let next = this.pending.shift(); next !== undefined && !this.stopped; next = this.pending.shift()) {
      const { target, shadow } = next;
      try {
        if (next.rollback === true) await (this.updater as ModelUpdater).revert(target);
        else if (shadow === undefined) {
          await (this.updater as ModelUpdater).update(target);
          this.updates += 1;
        } else await (this.updater as ModelUpdater).shadow(target, shadow);
      } catch (err) {
        this.refusals += 1;
        this.lastError = (err as Error).message;
        if (!(err instanceof UpdateRefused)) this.events.error('update.failed', { code: 'E_UPDATE', target, reason: (err as Error).message });
      }
    }
  }

  /**
   * The verified bytes of a signed target that is not installed (a federated round's global
   * model): a TUF refresh, the target's signed description (at most `maxBytes`), a download
   * checked for length and hashes, read once and hashed again. Runs in the service's one chain
   * (a refresh at the same time as an update's would write the same metadata files); the
   * downloaded file is not kept.
   */
  fetchTarget(target: string, maxBytes: number): Promise<Uint8Array> {
    if (this.stopped) return Promise.reject(new TrustError('E_TRUST_FETCH', 'the update service is stopping'));
    const result = this.chain.then(async () => {
      if (this.stopped) throw new TrustError('E_TRUST_FETCH', 'the update service is stopping');
      const trust = new TrustClient({ metadataDir: this.metadataDir, metadataUrl: this.s.metadataUrl, targetBaseUrl: this.s.targetBaseUrl, events: this.events });
      await trust.refresh();
      const info = await trust.target(target);
      if (info.length > maxBytes) throw new TrustError('E_TRUST_LENGTH', `${target} is ${info.length} bytes; at most ${maxBytes} are fetched for learning`);
      const dir = join(this.dataDir, 'learning', 'downloads');
      await mkdir(dir, { recursive: true });
      try {
        const got = await trust.download(info, join(dir, encodeURIComponent(info.path)));
        const bytes = await readFile(got.path);
        if (createHash('sha256').update(bytes).digest('hex') !== info.hashes['sha256']) throw new TrustError('E_TRUST_HASH', `${target} changed on disk after verification`);
        return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });
    this.chain = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  }

  /** The newest signed release of each configured model, from the trusted targets metadata after a refresh. */
  private async checkConfigured(): Promise<void> {
    if (this.s.models.length === 0 || this.stopped) return;
    try {
      const trust = new TrustClient({ metadataDir: this.metadataDir, metadataUrl: this.s.metadataUrl });
      await trust.refresh();
      const targets = (JSON.parse(await readFile(join(this.metadataDir, 'targets.json'), 'utf8')) as { signed: { targets: Record<string, { custom?: unknown }> } }).signed.targets;
      for (const model of this.s.models) {
        let best: { target: string; release: number } | undefined;
        for (const [path, t] of Object.entries(targets)) {
          let release;
          try {
            release = parseModelRelease(t.custom, path);
          } catch {
            continue; // golden files and other targets
          }
          if (release.model === model && (best === undefined || release.release > best.release)) best = { target: path, release: release.release };
        }
        const active = await (this.updater as ModelUpdater).slots(model).active();
        const accepted = (await (this.updater as ModelUpdater).accepted())[model] ?? 0;
        best = (await this.delegatedAbove(trust, model, Math.max(best?.release ?? 0, accepted, active?.release ?? 0))) ?? best;
        if (best !== undefined && best.release > Math.max(accepted, active?.release ?? 0)) this.enqueue(best.target);
      }
    } catch (err) {
      this.lastError = (err as Error).message;
      this.events.warn('update.check_failed', { code: (err as { code?: string }).code ?? 'E_UPDATE', reason: this.lastError });
    }
  }

  /**
   * Releases above `above` that only a delegated role signs (a federated task's global models:
   * the top-level targets do not list them), asked for by path, release after release, through
   * TUF's delegated target search: the newest of the unbroken run, or undefined. A release
   * number skipped ends the run (the fleet's releases are consecutive).
   */
  private async delegatedAbove(trust: TrustClient, model: string, above: number): Promise<{ target: string; release: number } | undefined> {
    let found: { target: string; release: number } | undefined;
    for (let release = above + 1; release <= above + MAX_RELEASE_PROBES; release += 1) {
      const path = modelReleaseTarget(model, release);
      let custom: unknown;
      try {
        custom = (await trust.target(path)).custom;
      } catch (err) {
        if (err instanceof TrustError && err.code === 'E_TRUST_NOT_LISTED') break;
        throw err;
      }
      try {
        const r = parseModelRelease(custom, path);
        if (r.model !== model || r.release !== release) break;
      } catch {
        break;
      }
      found = { target: path, release };
    }
    return found;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.stopping.abort();
    if (this.timer !== undefined) clearInterval(this.timer);
    await this.chain;
    await this.installedRead;
  }
}
