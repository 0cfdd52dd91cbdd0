import { problemResponses } from '../problem.js';
import { modelNameSchema, orNull } from './common.js';

export const releaseSchema = {
  type: 'object',
  properties: {
    target: { type: 'string', description: 'the TUF target path of the model file' },
    model: { type: 'string' },
    release: { type: 'integer' },
    version: { type: 'string' },
    length: { type: 'integer', description: 'bytes' },
    sha256: { type: 'string' },
    hardware: {
      type: 'object',
      properties: { arch: { type: 'array', items: { type: 'string' } }, accelerators: { type: 'array', items: { type: 'string' } } },
      required: ['arch', 'accelerators'],
      additionalProperties: false,
    },
    minRuntimeVersion: { type: 'string' },
    budgets: {
      type: 'object',
      properties: { latencyMs: { type: 'integer' }, errorRatePpm: { type: 'integer' }, probationS: { type: 'integer' } },
      required: ['latencyMs', 'errorRatePpm', 'probationS'],
      additionalProperties: false,
    },
    golden: {
      type: 'object',
      description: 'its golden run, which every gateway repeats before it installs the release: a known input and the output the model must give for it, both TUF targets (float32, little-endian), within the tolerance',
      properties: {
        input: { type: 'string' },
        inputName: { type: 'string' },
        dims: { type: 'array', items: { type: 'integer' } },
        output: { type: 'string' },
        outputName: { type: 'string' },
        tolerance: { type: 'string', description: 'largest allowed absolute difference per value, a decimal string' },
      },
      required: ['input', 'inputName', 'dims', 'output', 'outputName', 'tolerance'],
      additionalProperties: false,
    },
    evaluationSet: { type: orNull('string'), description: 'the target path of its labelled evaluation set (null: none); with one, a rollout\'s quality gate judges the release on it instead of on agreement with the model it replaces' },
    signedBy: { type: 'string', description: 'the TUF role whose metadata lists it: targets (the offline targets keys) or a delegated role such as federated-<task> (that role\'s online key)' },
    targetsVersion: { type: 'integer', description: 'the version of that role\'s metadata it was read from' },
  },
  required: ['target', 'model', 'release', 'version', 'length', 'sha256', 'hardware', 'minRuntimeVersion', 'budgets', 'golden', 'evaluationSet', 'signedBy', 'targetsVersion'],
  additionalProperties: false,
} as const;

export const listReleasesSchema = {
  tags: ['releases'],
  summary: 'Model releases in the TUF repository',
  description: 'From the newest published snapshot (the top-level targets role\'s releases and those of delegated roles such as federated-<task>), newest release of each model first; empty when the fleet has no repository.',
  querystring: { type: 'object', properties: { model: modelNameSchema }, additionalProperties: false },
  response: {
    200: { type: 'object', properties: { items: { type: 'array', items: releaseSchema } }, required: ['items'], additionalProperties: false },
    ...problemResponses,
  },
} as const;
