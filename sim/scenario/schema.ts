import { LABEL_VALUE_PATTERN } from '../../fleet/registry/labels.js';
import { SENSOR_FAULT_KINDS } from './types.js';
import { DURATION_FORMS, SIZE_FORMS } from './units.js';

/**
 * JSON Schemas (tjs) of a scenario file as a person writes it: times and sizes as text with
 * units (`30s`, `2MiB`), targets as `all`, an id, a list of ids or `{ group, count }`. Each
 * part is validated on its own and every problem reported (runtime/config/schema-walk.ts);
 * the units, the targets and the rules between sections are checked in rules.ts.
 */

/** A group name: its gateways are `<group>-<n>`, which must be gateway ids (at most 64 characters). */
export const GROUP_PATTERN = '^[A-Za-z0-9][A-Za-z0-9._-]{0,55}$';
const GROUP_DESCRIPTION = 'a group name of letters, digits, ".", "_" or "-" (at most 56, starting with a letter or digit)';

const duration = { type: 'string', minLength: 1, description: DURATION_FORMS } as const;
const size = { type: 'string', minLength: 1, description: SIZE_FORMS } as const;

/** Which gateways: `all`, one id, a list of ids, or `{ group, count }` (the group's first `count`; all of it without one). */
export const targetSchema = {
  anyOf: [
    { type: 'string', minLength: 1, description: '`all` or a gateway id like press-1' },
    { type: 'array', items: { type: 'string', minLength: 1, description: 'a gateway id like press-1' }, minItems: 1, maxItems: 10_000 },
    {
      type: 'object',
      properties: {
        group: { type: 'string', minLength: 1, description: 'the name of a gateway group' },
        count: { type: 'integer', minimum: 1, maximum: 100_000 },
      },
      required: ['group'],
      additionalProperties: false,
    },
  ],
} as const;

/** At most this many gateways in one scenario: a bound on what the loader expands and the runner starts. */
export const MAX_GATEWAYS = 5000;

export const gatewayGroupSchema = {
  type: 'object',
  properties: {
    group: { type: 'string', pattern: GROUP_PATTERN, description: GROUP_DESCRIPTION },
    count: { type: 'integer', minimum: 1, maximum: MAX_GATEWAYS },
    site: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$', description: 'a site name (letters, digits, ".", "_", "-"; at most 63)' },
    labels: { type: 'object', additionalProperties: { type: 'string', pattern: LABEL_VALUE_PATTERN, description: 'a label value of at most 63 letters, digits, ".", "_" or "-"' } },
    mode: { enum: ['process', 'in-process'] },
    mcu: {
      type: 'object',
      properties: { rateHz: { type: 'integer', minimum: 1, maximum: 10_000 } },
      additionalProperties: false,
    },
    camera: {
      type: 'object',
      properties: {
        fps: { type: 'number', exclusiveMinimum: 0, maximum: 60 },
        // Even: I420 frames have half-size chroma planes.
        width: { type: 'integer', minimum: 64, maximum: 1920, multipleOf: 2, description: 'an even number of pixels' },
        height: { type: 'integer', minimum: 64, maximum: 1080, multipleOf: 2, description: 'an even number of pixels' },
        defectShare: { type: 'number', minimum: 0, maximum: 1 },
      },
      additionalProperties: false,
    },
    synthetic: {
      type: 'object',
      properties: {
        rateHz: { type: 'number', exclusiveMinimum: 0, maximum: 10_000 },
        channels: { type: 'integer', minimum: 1, maximum: 64 },
      },
      additionalProperties: false,
    },
    budget: size,
  },
  required: ['group'],
  additionalProperties: false,
} as const;

/** The list itself; each group is validated on its own, so one bad group does not hide the rules about the others. */
export const gatewaysSchema = { type: 'array', items: { type: 'object' }, minItems: 1, maxItems: 200 } as const;

export const FAULT_KINDS = ['sensor', 'broker-outage', 'partition', 'kill', 'cable-pull'] as const;
export type FaultKindName = (typeof FAULT_KINDS)[number];

const kind = (name: FaultKindName) => ({ const: name }) as const;

/** Each fault kind's own keys (the kind is checked first, then the entry by its kind's schema). */
export const faultSchemas = {
  sensor: {
    type: 'object',
    properties: { kind: kind('sensor'), fault: { enum: SENSOR_FAULT_KINDS }, at: duration, duration, gateways: targetSchema },
    required: ['kind', 'fault', 'at', 'duration', 'gateways'],
    additionalProperties: false,
  },
  'broker-outage': {
    type: 'object',
    properties: { kind: kind('broker-outage'), at: duration, duration },
    required: ['kind', 'at', 'duration'],
    additionalProperties: false,
  },
  partition: {
    type: 'object',
    properties: { kind: kind('partition'), at: duration, duration, gateways: targetSchema },
    required: ['kind', 'at', 'duration', 'gateways'],
    additionalProperties: false,
  },
  kill: {
    type: 'object',
    properties: { kind: kind('kill'), at: duration, restartAfter: duration, gateways: targetSchema },
    required: ['kind', 'at', 'restartAfter', 'gateways'],
    additionalProperties: false,
  },
  'cable-pull': {
    type: 'object',
    properties: { kind: kind('cable-pull'), at: duration, duration, gateways: targetSchema },
    required: ['kind', 'at', 'duration', 'gateways'],
    additionalProperties: false,
  },
} as const;

export const faultKindSchema = {
  type: 'object',
  properties: { kind: { enum: FAULT_KINDS } },
  required: ['kind'],
} as const;

export const faultsSchema = { type: 'array', items: { type: 'object' }, maxItems: 1000 } as const;

export const rolloutSchema = {
  type: 'object',
  properties: {
    release: { enum: ['good', 'bad'] },
    at: duration,
    waves: { type: 'string', minLength: 1, description: 'waves as the console writes them, like "1, 50%, 100%"' },
    selector: { type: 'string', description: 'a label selector like site=plant-1 (empty or absent: every gateway)' },
  },
  required: ['release', 'at'],
  additionalProperties: false,
} as const;

export const rolloutsSchema = { type: 'array', items: rolloutSchema, maxItems: 20 } as const;

export const learningSchema = {
  type: 'object',
  properties: {
    at: duration,
    rounds: { type: 'integer', minimum: 1, maximum: 100 },
    byzantine: targetSchema,
    strategy: { type: 'string', minLength: 1, description: 'an aggregation rule of the fleet' },
  },
  required: ['at'],
  additionalProperties: false,
} as const;

export const fleetSchema = {
  type: 'object',
  properties: {
    dataDir: { type: 'string', minLength: 1, description: 'a directory path (absent: a temporary directory)' },
    db: { type: 'string', minLength: 1, description: 'a database as `edgewise fleet --db` takes it (absent: embedded PGlite in the data directory)' },
    httpPort: { type: 'integer', minimum: 0, maximum: 65_535 },
  },
  additionalProperties: false,
} as const;

/** The top-level keys; `name`, `duration` and `gateways` are required. */
export const rootSchema = {
  type: 'object',
  properties: {
    name: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$', description: 'a scenario name of letters, digits, ".", "_" or "-"' },
    description: { type: 'string', maxLength: 2000 },
    seed: { type: 'integer', minimum: 0, maximum: 0xffff_ffff },
    duration,
    fleet: { type: 'object' },
    gateways: { type: 'array' },
    faults: { type: 'array' },
    rollouts: { type: 'array' },
    learning: { type: 'object' },
    reportDir: { type: 'string', minLength: 1, description: 'a directory path' },
  },
  required: ['name', 'duration', 'gateways'],
  additionalProperties: false,
} as const;
