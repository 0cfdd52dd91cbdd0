export const aggregateSchema = {
  type: 'object',
  properties: {
    type: { const: 'aggregate' },
    windowMs: { type: 'integer', minimum: 1, maximum: 86_400_000 },
    /** Suffix for the output stream name: `<stream><suffix>`. */
    streamSuffix: { type: 'string', maxLength: 32 },
  },
  required: ['type', 'windowMs'],
  additionalProperties: false,
} as const;
