import type { FastifyBaseLogger } from 'fastify';
import type { ChangeFeed } from '../events/change-feed.js';
import type { EventStore } from '../events/event-store.js';
import type { LearningTasks } from '../federated/service/federated-service.js';
import type { FleetMetrics } from '../metrics.js';
import type { ProvisioningContext } from '../registry/gateway-config.js';
import type { Registry } from '../registry/registry.js';
import type { ReleaseInfo } from '../repo/releases.js';
import type { Rollouts } from '../rollouts/rollouts.js';
import type { LiveOptions } from './live/live-hub.js';
import type { TokenStore } from './tokens.js';

/** How the fleet service is doing, as `GET /health` reports it (503 when degraded). */
export interface ServiceHealth {
  readonly status: 'ok' | 'degraded';
  readonly broker: { readonly ok: boolean; readonly detail: string };
  readonly database: { readonly ok: boolean; readonly latencyMs: number | null; readonly detail: string };
  readonly ingest: { readonly ok: boolean; readonly queued: number; readonly lagMs: number | null; readonly detail: string };
}

/** Everything the HTTP API reads and changes; the service builds these and hands them in. */
export interface ApiDeps {
  readonly registry: Registry;
  readonly events: EventStore;
  /** What this process's registry, ingest and round service committed (GET /v1/live). */
  readonly changes: ChangeFeed;
  readonly tokens: TokenStore;
  /** Rollouts of signed releases (created, inspected, paused, resumed, aborted here; driven elsewhere). */
  readonly rollouts: Rollouts;
  /** Federated learning tasks and their rounds (the round service). */
  readonly learning: LearningTasks;
  /** The model releases in the fleet's TUF repository (`listReleases(repoDir)`; empty without one). */
  releases(): Promise<readonly ReleaseInfo[]>;
  health(): Promise<ServiceHealth>;
  /** Every request is counted into `metrics.httpRequests` by route template and status. */
  readonly metrics: FleetMetrics;
  readonly provisioning: ProvisioningContext;
  /** The TUF root a new gateway pins, or null when the fleet has no repository. */
  rootJson(): Promise<unknown | null>;
  /** The Mosquitto password hash of the fleet's own MQTT login (for an external broker's password file). */
  fleetMosquittoHash(): Promise<string>;
}

export interface ApiOptions {
  /** The service's logger (pino); without one the API logs nothing. */
  readonly logger?: FastifyBaseLogger;
  /** Largest request body; bigger ones get 413. */
  readonly bodyLimitBytes?: number;
  /** Bounds and intervals of GET /v1/live (defaults: LIVE_DEFAULTS). */
  readonly live?: LiveOptions;
  /** Where the built web console is (index.html, assets/); default the package's dist/console. */
  readonly consoleDir?: string;
}

export const API_DEFAULTS = { bodyLimitBytes: 64 * 1024 } as const;
