/**
 * The JSON the fleet's API sends, as the page reads it: written from the reply schemas in
 * fleet/api/schemas/*.ts (the console is a client of the public API and bundles none of the
 * fleet's code; test/fleet/console/api-types.test.ts checks these against the schemas' types).
 */

export type GatewayStatus = 'online' | 'offline' | 'degraded' | 'never-seen' | 'revoked';
export const GATEWAY_STATUSES: readonly GatewayStatus[] = ['online', 'offline', 'degraded', 'never-seen', 'revoked'];

export interface ReleaseRef {
  readonly release?: number;
  readonly version?: string;
  readonly sha256?: string;
}

export interface GatewaySummary {
  readonly id: string;
  readonly site: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly status: GatewayStatus;
  readonly online: boolean;
  readonly createdMs: number;
  readonly revokedMs: number | null;
  readonly lastSeenMs: number | null;
  readonly stateClean: boolean | null;
  readonly runtimeVersion: string | null;
  readonly hardware: { readonly arch?: string; readonly platform?: string; readonly cpus?: number; readonly memoryBytes?: number; readonly accelerators?: readonly string[] } | null;
  readonly releases: Readonly<Record<string, { readonly active?: ReleaseRef | null; readonly standby?: ReleaseRef | null }>>;
  readonly health: { readonly status: 'ok' | 'degraded'; readonly reasons: readonly string[]; readonly ts: number } | null;
  readonly telemetry: { readonly records: number; readonly lastMs: number | null };
}

export interface UpdateStep {
  readonly model: string | null;
  readonly target: string;
  readonly release: number | null;
  readonly version: string | null;
  readonly step: string;
  readonly outcome: string;
  readonly reason: string | null;
  readonly ts: number;
  readonly receivedMs: number;
  readonly shadow?: Readonly<Record<string, unknown>>;
}

export interface GatewayDetail extends GatewaySummary {
  readonly healthReport: Readonly<Record<string, unknown>> | null;
  readonly updateSteps: readonly UpdateStep[];
}

export type GatewayCounts = Readonly<Record<GatewayStatus | 'total', number>>;

export interface Page<T, C = string> {
  readonly items: readonly T[];
  readonly next: C | null;
}

export type EventKind = 'alert' | 'event' | 'summary';

export interface FleetEvent {
  readonly gatewayId: string;
  readonly recordId: string;
  readonly kind: EventKind;
  readonly class: string;
  readonly stream: string;
  readonly model: string | null;
  readonly ts: number;
  readonly receivedMs: number;
  readonly data?: unknown;
}

export interface Release {
  readonly target: string;
  readonly model: string;
  readonly release: number;
  readonly version: string;
  readonly length: number;
  readonly sha256: string;
  readonly hardware: { readonly arch: readonly string[]; readonly accelerators: readonly string[] };
  readonly minRuntimeVersion: string;
  readonly budgets: { readonly latencyMs: number; readonly errorRatePpm: number; readonly probationS: number };
  readonly golden: { readonly input: string; readonly inputName: string; readonly dims: readonly number[]; readonly output: string; readonly outputName: string; readonly tolerance: string };
  readonly evaluationSet: string | null;
  readonly signedBy: string;
  readonly targetsVersion: number;
}

export type RolloutState = 'running' | 'rolling-back' | 'paused' | 'aborted' | 'completed';

export interface RolloutWindow {
  readonly selector: string;
  readonly from: string;
  readonly to: string;
  readonly timeZone: string;
}

export interface Rollout {
  readonly id: string;
  readonly name: string;
  readonly target: string;
  readonly model: string;
  readonly release: number;
  readonly version: string;
  readonly selector: Readonly<Record<string, unknown>>;
  readonly waves: readonly Readonly<Record<string, unknown>>[];
  readonly gates: { readonly maxFailureShare: number; readonly maxRollbackShare: number; readonly maxTimeoutShare: number };
  readonly quality: Readonly<Record<string, unknown>> | null;
  readonly latencyBudgetMs: number;
  readonly evaluationSet: boolean;
  readonly onGateFailure: 'pause' | 'rollback';
  readonly ratePerMinute: number;
  readonly windows: readonly RolloutWindow[];
  readonly gatewayTimeoutMs: number;
  readonly probationMs: number;
  readonly state: RolloutState;
  readonly currentWave: number;
  readonly phase: 'shadow' | 'activate';
  readonly reason: string | null;
  readonly createdMs: number;
  readonly updatedMs: number;
}

export interface WaveTally {
  readonly total: number;
  readonly notified: number;
  readonly active: number;
  readonly failed: number;
  readonly rolledBack: number;
  readonly timedOut: number;
  readonly offline: number;
  readonly pending: number;
  readonly shadowing: number;
  readonly shadowed: number;
  readonly reverting: number;
  readonly reverted: number;
}

export interface RolloutDecision {
  readonly seq: number;
  readonly ts: number;
  readonly kind: string;
  readonly detail: Readonly<Record<string, unknown>>;
}

export interface RolloutStatus {
  readonly rollout: Rollout;
  readonly waves: readonly WaveTally[];
  readonly events: readonly RolloutDecision[];
}

export interface RolloutEvent extends RolloutDecision {
  readonly rolloutId: string;
}

export type RolloutSelector = { readonly kind: 'all' } | { readonly kind: 'labels'; readonly selector: string } | { readonly kind: 'ids'; readonly ids: readonly string[] };

export interface RolloutRequest {
  readonly name?: string;
  readonly target: string;
  readonly selector: RolloutSelector;
  readonly waves: readonly ({ readonly kind: 'count'; readonly count: number } | { readonly kind: 'share'; readonly share: number } | { readonly kind: 'labels'; readonly selector: string })[];
  readonly gates?: { readonly maxFailureShare?: number; readonly maxRollbackShare?: number; readonly maxTimeoutShare?: number };
  readonly onGateFailure?: 'pause' | 'rollback';
  readonly ratePerMinute?: number;
  readonly windows?: readonly RolloutWindow[];
  readonly gatewayTimeoutMs?: number;
}

export interface RolloutPreview {
  readonly target: string;
  readonly model: string;
  readonly release: number;
  readonly total: number;
  readonly waves: readonly { readonly index: number; readonly size: number; readonly gateways: readonly string[]; readonly more: number }[];
}

export interface GlobalModel {
  readonly name: string;
  readonly release: number;
  readonly version: string;
  readonly sha256: string;
  readonly fetch: { readonly type: string; readonly target: string };
}

export interface LearningTask {
  readonly id: string;
  readonly state: 'active' | 'stopped' | 'finished';
  readonly reason: string | null;
  readonly createdMs: number;
  readonly updatedMs: number;
  readonly definition: Readonly<Record<string, unknown>>;
  readonly schedule: { readonly rounds: number | null; readonly roundIntervalMs: number; readonly rollout: Readonly<Record<string, unknown>> | null };
  readonly globalModel: GlobalModel;
  readonly nextRound: number;
  readonly roundsClosed: number;
  readonly privacyHistory: readonly Readonly<Record<string, unknown>>[];
}

export interface LearningRound {
  readonly task: string;
  readonly round: number;
  readonly openedMs: number;
  readonly deadlineMs: number;
  readonly closedMs: number | null;
  readonly outcome: 'open' | 'model' | 'no-model' | 'abandoned';
  readonly globalModel: GlobalModel;
  readonly sampled: number;
  readonly participants: number;
  readonly meanValidationLoss: number | null;
  readonly epsilonSpent: number | null;
  readonly released: GlobalModel | null;
  readonly releaseError: string | null;
  readonly record: Readonly<Record<string, unknown>> | null;
}

export type TokenRole = 'read-only' | 'read-write';

export interface Me {
  readonly id: string;
  readonly name: string;
  readonly role: TokenRole;
}

export interface MetricSample {
  readonly ts: number;
  readonly status: string;
  readonly rssBytes: number | null;
  readonly storeBytes: number | null;
  readonly storeRecords: number | null;
  readonly publishedRecords: number | null;
  readonly ackedRecords: number | null;
  readonly inFlightMessages: number | null;
  readonly droppedRecords: number | null;
  readonly uplinkConnected: boolean | null;
}

export interface Problem {
  readonly type?: string;
  readonly title?: string;
  readonly status?: number;
  readonly code?: string;
  readonly detail?: string;
}
