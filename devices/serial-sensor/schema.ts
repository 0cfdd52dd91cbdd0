import { RECORD_CLASSES } from '../../fleet/protocol/index.js';
import { delayRangeSchema, idProperty } from '../../runtime/config/schema.js';

export const serialSensorSchema = {
  type: 'object',
  properties: {
    id: idProperty,
    type: { const: 'serial-sensor' },
    path: { type: 'string', minLength: 1, description: 'a serial device path like /dev/ttyACM0 or /dev/serial/by-id/...' },
    baudRate: { type: 'integer', minimum: 300, maximum: 12_000_000 },
    stream: { type: 'string', minLength: 1, maxLength: 128 },
    class: { enum: RECORD_CLASSES },
    /** Sent to the MCU after every HELLO; omitted: the MCU keeps its own settings. */
    sampleRateHz: { type: 'number', exclusiveMinimum: 0, maximum: 4_000_000 },
    channels: { type: 'array', items: { type: 'string', minLength: 1 }, minItems: 1, maxItems: 32, uniqueItems: true, description: 'names of the channels to enable' },
    retransmitTimeoutMs: { type: 'integer', minimum: 10, maximum: 60_000 },
    timeSyncIntervalMs: { type: 'integer', minimum: 100, maximum: 3_600_000 },
    reopen: delayRangeSchema,
    /** Records waiting for the store at most; beyond, reading the port pauses (backpressure to the MCU). */
    maxPendingRecords: { type: 'integer', minimum: 1, maximum: 1_000_000 },
  },
  required: ['id', 'type', 'path'],
  additionalProperties: false,
} as const;
