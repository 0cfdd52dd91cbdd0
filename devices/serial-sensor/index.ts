import { defineSource } from '../../runtime/pipeline/registry.js';
import { serialSensorSchema } from './schema.js';

export const serialSensorPlugin = defineSource({
  type: 'serial-sensor',
  configSchema: serialSensorSchema,
  emits: ['samples'],
  // The port may be absent at check time (plugged in later): the source reopens it with backoff, so it is not a file the check requires.
  pathKeys: [['path']],
  check: (config) => {
    const r = config.reopen;
    return r?.minDelayMs !== undefined && r.maxDelayMs !== undefined && r.minDelayMs > r.maxDelayMs
      ? [{ path: ['reopen', 'maxDelayMs'], expected: `a number >= reopen.minDelayMs (${r.minDelayMs})`, got: String(r.maxDelayMs) }]
      : [];
  },
  // serialport's native binding is loaded only by a config that has a serial sensor.
  create: async (config) =>
    new (await import('./serial-sensor.js')).SerialSensorSource({
      id: config.id,
      path: config.path,
      baudRate: config.baudRate ?? 115_200,
      stream: config.stream ?? config.id,
      class: config.class ?? 'telemetry',
      sampleRateHz: config.sampleRateHz,
      channels: config.channels,
      retransmitTimeoutMs: config.retransmitTimeoutMs ?? 250,
      timeSyncIntervalMs: config.timeSyncIntervalMs ?? 2000,
      reopenMinDelayMs: config.reopen?.minDelayMs ?? 200,
      reopenMaxDelayMs: config.reopen?.maxDelayMs ?? 5000,
      maxPendingRecords: config.maxPendingRecords ?? 1000,
    }),
});
