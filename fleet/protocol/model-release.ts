import { schema, type Infer } from 'tjs';
import { ProtocolError } from './errors.js';
import { formatProblem, toSchemaProblem } from './schema-problems.js';

const name = { type: 'string', pattern: '^[a-z0-9][a-z0-9._-]{0,63}$', description: 'a model name (lower-case letters, digits, ".", "_", "-")' } as const;
const targetPath = { type: 'string', pattern: '^[A-Za-z0-9._/-]{1,200}$', description: 'a target path in the same TUF repository' } as const;
const semver = { type: 'string', pattern: '^\\d+\\.\\d+\\.\\d+$', description: 'a version MAJOR.MINOR.PATCH' } as const;

/**
 * What the updater needs to know about a model release, in the TUF target's `custom.edgewise`.
 * The signatures over the targets metadata cover it, so every field here is as trusted as
 * the model's hash.
 */
export const modelReleaseSchema = {
  type: 'object',
  properties: {
    /** The model this release is of; the gateway keeps the highest release accepted per model. */
    model: name,
    /** Monotonic per model (Uptane's idea): a deliberate downgrade is a new release with a higher counter. */
    release: { type: 'integer', minimum: 1, maximum: 9_007_199_254_740_991 },
    /** For people: shown in reports and the decision log. */
    version: { type: 'string', minLength: 1, maxLength: 32 },
    hardware: {
      type: 'object',
      properties: {
        /** Node's process.arch values the model is built for. */
        arch: { type: 'array', items: { enum: ['x64', 'arm64', 'arm'] }, minItems: 1, uniqueItems: true },
        /** Execution providers it needs one of (cpu: any). */
        accelerators: { type: 'array', items: { type: 'string', minLength: 1, maxLength: 32 }, minItems: 1, uniqueItems: true },
      },
      required: ['arch', 'accelerators'],
      additionalProperties: false,
    },
    /** The oldest edgewise runtime that can run it. */
    minRuntimeVersion: semver,
    /** A known input and the output the model must give for it, both TUF targets (float32, little-endian). */
    golden: {
      type: 'object',
      properties: {
        input: targetPath,
        inputName: { type: 'string', minLength: 1, maxLength: 128 },
        dims: { type: 'array', items: { type: 'integer', minimum: 1, maximum: 1_000_000 }, minItems: 1, maxItems: 8 },
        output: targetPath,
        outputName: { type: 'string', minLength: 1, maxLength: 128 },
        /**
         * Largest allowed absolute difference per value, as a decimal string: TUF signs
         * canonical JSON, which has no fractional numbers.
         */
        tolerance: { type: 'string', pattern: '^\\d+(\\.\\d+)?([eE]-?\\d+)?$', description: 'a non-negative decimal number as a string, like "0.0001"' },
      },
      required: ['input', 'inputName', 'dims', 'output', 'outputName', 'tolerance'],
      additionalProperties: false,
    },
    budgets: {
      type: 'object',
      properties: {
        /** The golden run, and runs in probation, must take at most this long (ms). */
        latencyMs: { type: 'integer', minimum: 1, maximum: 600_000 },
        /** Failed runs allowed in probation, per million runs (integers only: canonical JSON). */
        errorRatePpm: { type: 'integer', minimum: 0, maximum: 1_000_000 },
        /** How long after activation the budgets are watched (s); a breach switches back. */
        probationS: { type: 'integer', minimum: 0, maximum: 30 * 86_400 },
      },
      required: ['latencyMs', 'errorRatePpm', 'probationS'],
      additionalProperties: false,
    },
    /**
     * A labelled evaluation set (a TUF target beside the model): in shadow, a gateway scores it
     * with both its active model and this one, and a rollout's quality gate holds this one to
     * be no worse on it instead of to agree with the model it replaces.
     */
    evaluation: {
      type: 'object',
      properties: {
        set: targetPath,
      },
      required: ['set'],
      additionalProperties: false,
    },
  },
  required: ['model', 'release', 'version', 'hardware', 'minRuntimeVersion', 'golden', 'budgets'],
  additionalProperties: false,
} as const;

export type ModelRelease = Infer<typeof modelReleaseSchema>;

const validator = schema(modelReleaseSchema);

/**
 * Where release `release` of `model` keeps its model file in the repository. Every file of a
 * release sits under `models/<model>/<release>/`, so one TUF delegation pattern,
 * `models/<model>/*\/*`, covers every release of a model; and a gateway can ask for release N
 * of its model by path, which reaches releases signed by a delegated role (a federated task's
 * global models) that the top-level targets do not list.
 */
export function modelReleaseTarget(model: string, release: number): string {
  return `models/${model}/${release}/model.onnx`;
}

/**
 * The `custom.edgewise` of a target, validated. Signed metadata is trusted not to be forged,
 * not to be well formed: a repository tool bug must be refused with the field named.
 */
export function parseModelRelease(custom: unknown, target: string): ModelRelease {
  const edgewise = (custom as { edgewise?: unknown } | null | undefined)?.edgewise;
  if (edgewise === undefined) throw new ProtocolError('E_PAYLOAD_INVALID', `target ${target}: custom.edgewise is missing (not a model release)`);
  const r = validator.validate(edgewise);
  if (r.error !== undefined) {
    const first = r.error[0];
    const problem = first === undefined ? `custom.edgewise: invalid` : formatProblem(toSchemaProblem(first, modelReleaseSchema as Record<string, unknown>, edgewise, ['custom', 'edgewise']));
    throw new ProtocolError('E_PAYLOAD_INVALID', `target ${target}: ${problem}`);
  }
  return r.value as ModelRelease;
}
