import { RECORD_CLASSES } from '../../fleet/protocol/index.js';
import { idProperty } from '../../runtime/config/schema.js';

const componentAmplitude = { type: 'number', minimum: 0, maximum: 1e12 } as const;

/** One channel: value = offset + sine + noise + steps + spikes. Every part is optional. */
export const channelSchema = {
  type: 'object',
  properties: {
    name: { type: 'string', pattern: '^[A-Za-z_][A-Za-z0-9_.-]{0,63}$', description: 'a channel name (letters, digits, "_", "." or "-")' },
    unit: { type: 'string', maxLength: 32 },
    offset: { type: 'number', minimum: -1e12, maximum: 1e12 },
    sine: {
      type: 'object',
      properties: { amplitude: componentAmplitude, frequencyHz: { type: 'number', exclusiveMinimum: 0, maximum: 1e6 } },
      required: ['amplitude', 'frequencyHz'],
      additionalProperties: false,
    },
    noise: {
      type: 'object',
      properties: { stddev: componentAmplitude },
      required: ['stddev'],
      additionalProperties: false,
    },
    steps: {
      type: 'object',
      properties: { everyMs: { type: 'integer', minimum: 1 }, height: { type: 'number', minimum: -1e12, maximum: 1e12 } },
      required: ['everyMs', 'height'],
      additionalProperties: false,
    },
    spikes: {
      type: 'object',
      properties: { probability: { type: 'number', minimum: 0, maximum: 1 }, height: { type: 'number', minimum: -1e12, maximum: 1e12 } },
      required: ['probability', 'height'],
      additionalProperties: false,
    },
  },
  required: ['name'],
  additionalProperties: false,
} as const;

export const syntheticSchema = {
  type: 'object',
  properties: {
    id: idProperty,
    type: { const: 'synthetic' },
    rateHz: { type: 'number', exclusiveMinimum: 0, maximum: 1_000_000 },
    samplesPerRecord: { type: 'integer', minimum: 1, maximum: 100_000 },
    class: { enum: RECORD_CLASSES },
    stream: { type: 'string', minLength: 1, maxLength: 128 },
    seed: { type: 'integer', minimum: 0, maximum: 4_294_967_295 },
    channels: { type: 'array', items: channelSchema, minItems: 1, maxItems: 256 },
  },
  required: ['id', 'type', 'rateHz', 'channels'],
  additionalProperties: false,
} as const;
