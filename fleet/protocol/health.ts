import type { RecordClass } from './record.js';

/**
 * The gateway's health report: published retained on `.../health` as JSON and served by
 * the gateway's local HTTP endpoint. Counters are totals since the process started;
 * receivers compute rates from successive reports.
 */
export interface HealthReport {
  readonly gw: string;
  readonly ts: number;
  readonly runtimeVersion: string;
  readonly uptimeS: number;
  /** `ok`, or `degraded` with the reasons (a full queue, a failing disk, a lost uplink). */
  readonly status: 'ok' | 'degraded';
  readonly reasons: readonly string[];
  readonly store: {
    readonly budgetBytes: number;
    readonly records: Readonly<Record<RecordClass, number>>;
    readonly bytes: Readonly<Record<RecordClass, number>>;
    readonly appended: Readonly<Record<RecordClass, number>>;
    readonly evicted: Readonly<Record<RecordClass, number>>;
    readonly writeErrors: number;
    /** Records refused as given (not encodable, too large, bad stream name or timestamp). */
    readonly rejected: number;
    readonly decisionLog: { readonly entries: number; readonly bytes: number; readonly expired: number; readonly evicted: number };
  };
  /** Signed model updates, when the gateway has them: counters and the last problem. */
  readonly updates?: { readonly updates: number; readonly refusals: number; readonly pending: number; readonly lastError: string | null };
  readonly uplink: {
    readonly connected: boolean;
    readonly publishedRecords: number;
    readonly ackedRecords: number;
    readonly inFlightMessages: number;
    readonly reconnects: number;
    readonly lastError: string | null;
  };
  readonly pipelines: readonly {
    readonly id: string;
    readonly edges: readonly {
      readonly name: string;
      readonly policy: string;
      readonly depthRecords: number;
      readonly capacityRecords: number;
      readonly dropped: number;
    }[];
    /** Each stage's own counters (a model stage: its provider, whether degraded, alerts...). */
    readonly stages: readonly { readonly type: string; readonly details: Readonly<Record<string, number | string | boolean | null>> }[];
  }[];
  readonly sources: readonly {
    readonly id: string;
    readonly type: string;
    readonly emitted: number;
    readonly stored: number;
    readonly dropped: number;
    /** Driver-specific counters (a serial sensor: CRC errors, resyncs, retransmits, MCU reboots...). */
    readonly details?: Readonly<Record<string, number | string | boolean | null>>;
  }[];
  readonly rssBytes: number;
  /** What the gateway runs on (since runtime 0.1.0 with the fleet registry; absent from older gateways). */
  readonly hardware?: GatewayHardware;
  /** Per managed model: the active release and the standby one kept for rollback. */
  readonly releases?: Readonly<Record<string, ModelReleases>>;
}

export interface GatewayHardware {
  /** `process.arch`: x64, arm64, arm. */
  readonly arch: string;
  /** `process.platform`: linux. */
  readonly platform: string;
  readonly cpus: number;
  readonly memoryBytes: number;
  /** Execution providers the inference engine's probe found usable (cpu, cuda, ...). */
  readonly accelerators: readonly string[];
}

export interface ReleaseRef {
  readonly release: number;
  readonly version: string;
  readonly sha256: string;
}

export interface ModelReleases {
  readonly active: ReleaseRef | null;
  readonly standby: ReleaseRef | null;
}
