import type { ComponentEvents } from '../../health/events.js';
import { coerceCommand, decodeCommandMetrics, type DeviceDef } from './metrics.js';

/**
 * Writes a value to a source's point: the gateway's wiring to `Source.writeValue`. Rejects
 * with an error saying why when the source cannot (no such writable point, the device refused).
 */
export type MetricWriter = (sourceId: string, metric: string, value: number | boolean | string) => Promise<void>;

/** Writes that may wait for their device at once; a DCMD beyond them is refused, not queued. */
export const MAX_PENDING_WRITES = 32;
/** Metrics one DCMD may set; a longer one is refused whole as an invalid command (one log line, not thousands). */
export const MAX_COMMAND_METRICS = 1000;

export interface DeviceCommandCounts {
  /** DCMD messages received for a known device. */
  deviceCommands: number;
  /** Metric writes the source confirmed (a Modbus slave acknowledged it). */
  writes: number;
  /** Metric writes refused before reaching the source: unknown or read-only metric, a value that does not fit, too many waiting. */
  writesRefused: number;
  /** Metric writes the source tried and failed (an exception reply, a timeout, the port closed). */
  writesFailed: number;
}

/**
 * DCMD: a host (Ignition, say) sets metrics of a device. Only metrics the config marks
 * `write: true` are written, each through the source that owns the device (a Modbus source
 * checks its own `write: true` on the point again); everything else is refused and told,
 * never written. The new value reaches the host the ordinary way: in the next DDATA the
 * source's poll produces. Writes are not retried here: the source has its own retries, and a
 * host that sees no change sends the command again.
 */
export class DeviceCommands {
  readonly counts: DeviceCommandCounts = { deviceCommands: 0, writes: 0, writesRefused: 0, writesFailed: 0 };
  private pending = 0;
  private readonly byDeviceId: ReadonlyMap<string, DeviceDef>;
  /** Per device id, its metrics by alias. */
  private readonly byAlias: ReadonlyMap<string, ReadonlyMap<number, DeviceDef['metrics'][number]>>;

  constructor(
    devices: readonly DeviceDef[],
    private readonly writer: MetricWriter | undefined,
    private readonly events: ComponentEvents,
    private readonly onInvalid: (reason: string) => void,
  ) {
    this.byDeviceId = new Map(devices.map((d) => [d.deviceId, d]));
    this.byAlias = new Map(devices.map((d) => [d.deviceId, new Map(d.metrics.map((m) => [m.alias, m]))]));
  }

  /** Whether any metric may be written: only then does the node subscribe to DCMD. */
  static wanted(devices: readonly DeviceDef[]): boolean {
    return devices.some((d) => d.metrics.some((m) => m.writable));
  }

  /** One DCMD for `deviceId`; returns once every write it asked for has been started. */
  handle(deviceId: string, payload: Uint8Array): void {
    const device = this.byDeviceId.get(deviceId);
    if (device === undefined) {
      this.refuse({ device: deviceId }, `no device "${deviceId}" on this edge node`);
      return;
    }
    let metrics;
    try {
      metrics = decodeCommandMetrics(payload);
    } catch (err) {
      this.onInvalid((err as Error).message);
      return;
    }
    if (metrics.length > MAX_COMMAND_METRICS) {
      this.onInvalid(`a DCMD for ${deviceId} with ${metrics.length} metrics, over ${MAX_COMMAND_METRICS}: nothing written`);
      return;
    }
    this.counts.deviceCommands += 1;
    for (const m of metrics) {
      const def = m.alias !== undefined ? this.byAlias.get(deviceId)?.get(m.alias) : m.name !== undefined ? device.byName.get(m.name) : undefined;
      const which = { device: deviceId, metric: def?.name ?? m.name ?? `alias ${String(m.alias)}` };
      if (def === undefined) {
        this.refuse(which, 'no such metric on the device');
        continue;
      }
      if (!def.writable) {
        this.refuse(which, 'the metric is not writable (write: true in its sparkplug config)');
        continue;
      }
      const value = m.value === undefined ? undefined : coerceCommand(def.type, m.value);
      if (value === undefined) {
        this.refuse(which, `the value ${JSON.stringify(m.value ?? null)} is not a ${def.type}`);
        continue;
      }
      if (this.writer === undefined) {
        this.refuse(which, 'this gateway writes to no source');
        continue;
      }
      if (this.pending >= MAX_PENDING_WRITES) {
        this.refuse(which, `${MAX_PENDING_WRITES} writes are already waiting for their devices`);
        continue;
      }
      this.pending += 1;
      this.writer(device.sourceId, def.name, value).then(
        () => {
          this.pending -= 1;
          this.counts.writes += 1;
          this.events.info('sparkplug.metric_written', { ...which, source: device.sourceId, value });
        },
        (err: unknown) => {
          this.pending -= 1;
          this.counts.writesFailed += 1;
          const code = (err as { code?: unknown }).code;
          this.events.warn('sparkplug.write_failed', { code: typeof code === 'string' ? code : 'E_SPARKPLUG_WRITE', ...which, source: device.sourceId, value, reason: (err as Error).message });
        },
      );
    }
  }

  private refuse(which: { device: string; metric?: string }, reason: string): void {
    this.counts.writesRefused += 1;
    this.events.warn('sparkplug.write_refused', { code: 'E_SPARKPLUG_WRITE_REFUSED', ...which, reason });
  }
}
