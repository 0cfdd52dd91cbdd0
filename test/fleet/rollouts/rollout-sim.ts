import type { Sql } from '../../../fleet/db/open-database.js';
import { GatewayStore } from '../../../fleet/registry/gateway-store.js';
import type { ReleaseInfo } from '../../../fleet/repo/releases.js';
import type { ReleaseNotice, ShadowSpec, ShadowSummary } from '../../../fleet/protocol/update.js';
import type { ReleaseNotifier } from '../../../fleet/rollouts/rollout-driver.js';

export const RELEASE: ReleaseInfo = {
  target: 'models/press/2/model.onnx',
  model: 'press',
  release: 2,
  version: '2026.12',
  length: 5,
  sha256: 'ab',
  hardware: { arch: ['x64', 'arm64'], accelerators: ['cpu'] },
  minRuntimeVersion: '0.1.0',
  budgets: { latencyMs: 100, errorRatePpm: 1000, probationS: 0 },
  golden: { input: 'models/press/2/golden-input.bin', inputName: 'x', dims: [1, 4], output: 'models/press/2/golden-output.bin', outputName: 'y', tolerance: '0.0001' },
  evaluationSet: null,
  signedBy: 'targets',
  targetsVersion: 3,
};

/** Gateways straight into the registry, online unless told otherwise. */
export async function addGateways(sql: Sql, n: number, labels: (i: number) => Record<string, string> = () => ({}), nowMs = 1): Promise<string[]> {
  const store = new GatewayStore(sql);
  const ids = Array.from({ length: n }, (_, i) => `gw-${String(i).padStart(3, '0')}`);
  for (const [i, id] of ids.entries()) await store.insert({ id, site: '', labels: labels(i), passwordScrypt: 'x', passwordMosquitto: 'y', nowMs });
  await store.applyStates(ids.map((gw) => ({ gw, online: true, clean: true, ts: 1, runtimeVersion: '0.1.0', receivedMs: nowMs })));
  return ids;
}

export async function setOnline(sql: Sql, gw: string, online: boolean, ts: number): Promise<void> {
  await new GatewayStore(sql).applyStates([{ gw, online, clean: true, ts, runtimeVersion: '0.1.0', receivedMs: ts }]);
}

/**
 * Simulated gateways behind a notifier: each notice is remembered; `respond` makes the told
 * gateways report as the real updater does (download ... activate, or a refusal).
 */
/** Three in every ten gateways told fail their health check (in the order told); `failing` names them. */
export function threeInTenFail(): { behaviour: (gw: string) => 'ok' | 'fail'; failing: Set<string> } {
  let told = 0;
  const failing = new Set<string>();
  return {
    failing,
    behaviour: (gw) => {
      told += 1;
      if (told % 10 < 3) failing.add(gw);
      return failing.has(gw) ? 'fail' : 'ok';
    },
  };
}

/** A shadow report as a gateway whose candidate agrees (or not) with its active model would send. */
export function shadowSummary(agreement: number, over: Partial<ShadowSummary> = {}): ShadowSummary {
  return {
    stages: 1,
    inferences: 200,
    errors: 0,
    durationMs: 4000,
    latencyMs: { p50: 2, p99: 5 },
    anomaly: { windows: 200, alertAgreement: agreement, activeAlerting: 3, candidateAlerting: Math.round(3 + (1 - agreement) * 200), scoreCorrelation: agreement > 0.9 ? 0.98 : 0.1 },
    vision: null,
    evaluation: null,
    ...over,
  };
}

export class SimulatedGateways implements ReleaseNotifier {
  readonly notices: { gw: string; target: string; shadow?: ShadowSpec; rollback?: true }[] = [];
  private answered = new Set<string>();

  constructor(
    private readonly sql: Sql,
    /** How a gateway answers a notice: activate, fail its health check, or stay silent. */
    private readonly behaviour: (gw: string) => 'ok' | 'fail' | 'silent' | 'rollback' = () => 'ok',
    /** What a gateway told to shadow the release reports (undefined: nothing, it stays silent). */
    private readonly shadowing: (gw: string) => ShadowSummary | undefined = () => shadowSummary(1),
  ) {}

  async notify(gatewayId: string, notice: ReleaseNotice): Promise<void> {
    this.notices.push({ gw: gatewayId, ...notice });
  }

  /** Notices to activate (not to shadow, not to switch back). */
  activations(gw?: string): number {
    return this.notices.filter((n) => n.shadow === undefined && n.rollback !== true && (gw === undefined || n.gw === gw)).length;
  }

  count(gw: string): number {
    return this.notices.filter((n) => n.gw === gw).length;
  }

  /** Every gateway told so far and not yet answered reports its update steps now. */
  async respond(nowMs: number): Promise<void> {
    const store = new GatewayStore(this.sql);
    for (const [i, { gw, target, shadow, rollback }] of this.notices.entries()) {
      const key = `${gw}\0${i}`;
      if (this.answered.has(key)) continue;
      this.answered.add(key);
      if (rollback === true) {
        await store.addUpdateSteps([{ gw, model: 'press', target, release: 1, version: '2026.11', step: 'rollback', outcome: 'ok', reason: 'switched back from release 2', ts: nowMs, receivedMs: nowMs }]);
        continue;
      }
      if (shadow !== undefined) {
        const summary = this.shadowing(gw);
        if (summary !== undefined) {
          const base = { gw, model: 'press', target, release: 2, version: '2026.12', ts: nowMs, receivedMs: nowMs, reason: null };
          await store.addUpdateSteps([{ ...base, step: 'download', outcome: 'ok' }, { ...base, step: 'health', outcome: 'ok' }, { ...base, step: 'shadow', outcome: 'ok', shadow: summary }]);
        }
        continue;
      }
      const b = this.behaviour(gw);
      if (b === 'silent') continue;
      const step = (s: 'download' | 'install' | 'health' | 'activate' | 'probation', outcome: 'ok' | 'refused' | 'failed', reason: string | null = null) => ({ gw, model: 'press', target: s === 'probation' ? '' : target, release: 2, version: '2026.12', step: s, outcome, reason, ts: nowMs, receivedMs: nowMs });
      if (b === 'fail') await store.addUpdateSteps([step('download', 'ok'), step('install', 'ok'), step('health', 'refused', 'E_UPDATE_GOLDEN: output differs')]);
      else await store.addUpdateSteps([step('download', 'ok'), step('install', 'ok'), step('health', 'ok'), step('activate', 'ok'), ...(b === 'rollback' ? [step('probation', 'failed', 'E_UPDATE_PROBATION: error rate')] : [])]);
    }
  }
}
