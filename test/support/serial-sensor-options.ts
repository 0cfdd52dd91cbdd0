import type { PortOptions, SerialTransport } from '../../devices/serial-sensor/port.js';
import type { SerialSensorOptions } from '../../devices/serial-sensor/serial-sensor.js';

/** A serial sensor source's options for unit tests over an in-memory transport: fast retransmits and reopens. */
export function memorySerialSensorOptions(openTransport: (options: PortOptions) => SerialTransport): SerialSensorOptions {
  return {
    id: 's',
    path: '/dev/null',
    baudRate: 921_600,
    stream: 's',
    class: 'telemetry',
    sampleRateHz: undefined,
    channels: undefined,
    retransmitTimeoutMs: 100,
    timeSyncIntervalMs: 1000,
    reopenMinDelayMs: 100,
    reopenMaxDelayMs: 100,
    maxPendingRecords: 100,
    openTransport,
  };
}
