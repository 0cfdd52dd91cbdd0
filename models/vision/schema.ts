import type { Infer } from 'tjs';
import type { CheckContext, PluginProblem } from '../../runtime/pipeline/registry.js';
import { LAYOUTS } from './decoders/decoder.js';
import { ZONE_NAME_PATTERN, zoneNameClashes } from './zone-names.js';

const point = { type: 'array', items: { type: 'number', minimum: 0, maximum: 100_000 }, minItems: 2, maxItems: 2 } as const;
const share = { type: 'number', minimum: 0, maximum: 1 } as const;
const polygon = { type: 'array', items: point, minItems: 3, maxItems: 64 } as const;
/** A bare polygon (called zone-<index>) or a named one; the two forms differ by JSON type, so a problem is named inside the one given. */
const zone = {
  anyOf: [
    polygon,
    {
      type: 'object',
      properties: {
        name: { type: 'string', pattern: ZONE_NAME_PATTERN, description: 'a zone name of 1 to 64 letters, digits, "_", "." or "-"' },
        points: polygon,
      },
      required: ['name', 'points'],
      additionalProperties: false,
    },
  ],
  description: 'a polygon ([[x, y], ...], 3 to 64 points) or { name, points }',
} as const;

export const visionSchema = {
  type: 'object',
  properties: {
    type: { const: 'vision' },
    /** The model: a file (its bytes are hashed and recorded with every decision) or the built-in defect detector. */
    model: {
      type: 'object',
      properties: {
        path: { type: 'string', minLength: 1 },
        builtin: { enum: ['defect-detector'] },
        /** A model installed by signed updates (the `updates` section): its active release runs, and a new one is switched to. */
        managed: { type: 'string', pattern: '^[a-z0-9][a-z0-9._-]{0,63}$', description: 'a model name known to the updater' },
        name: { type: 'string', minLength: 1, maxLength: 64 },
        version: { type: 'string', minLength: 1, maxLength: 32 },
      },
      additionalProperties: false,
    },
    /** A crop classifier that names each detected box's class (a detector + classifier cascade); default with the built-in detector: the built-in defect classifier. */
    classifier: {
      type: 'object',
      properties: {
        path: { type: 'string', minLength: 1 },
        builtin: { enum: ['defect-classifier'] },
        classNames: { type: 'array', items: { type: 'string', minLength: 1, maxLength: 64 }, minItems: 1, maxItems: 1000 },
        name: { type: 'string', minLength: 1, maxLength: 64 },
        version: { type: 'string', minLength: 1, maxLength: 32 },
      },
      additionalProperties: false,
    },
    /** Default: whichever the model's outputs are (see layout). */
    task: { enum: ['detection', 'classification'] },
    /**
     * Class names by class id, exactly as many as the model has classes. Default: the names in
     * the model's metadata (Ultralytics exports carry them), else class<N>.
     */
    classNames: { type: 'array', items: { type: 'string', minLength: 1, maxLength: 64 }, minItems: 1, maxItems: 1000 },
    /** The class whose tracks are reported as defects. */
    defectClass: { type: 'string', minLength: 1, maxLength: 64 },
    /** How the model's outputs are read (decoders/); auto: the one layout they fit. */
    layout: { enum: ['auto', ...LAYOUTS] },
    confidence: share,
    iouThreshold: share,
    /** Normalisation of 0..1 inputs per channel (YOLO exports: none; ImageNet classifiers: their mean and std). */
    mean: { type: 'array', items: { type: 'number' }, minItems: 1, maxItems: 3 },
    std: { type: 'array', items: { type: 'number', exclusiveMinimum: 0 }, minItems: 1, maxItems: 3 },
    /** Threads per inference; 1 suits small models on a 2-core box (the other core decodes video). */
    threads: { type: 'integer', minimum: 1, maximum: 64 },
    /**
     * Where preprocessing, the model and the crop classifier run: a worker thread of their own
     * (so decoding, gating and tracking on the gateway's thread overlap with them), or the
     * gateway's thread (one thread less: about 10 MB less memory, no overlap).
     */
    inferenceThread: { enum: ['worker', 'main'] },
    providers: { type: 'array', items: { type: 'string', minLength: 1 }, minItems: 1, maxItems: 8 },
    /**
     * Polygons in source pixels, each bare or `{ name, points }` (a bare one is called
     * zone-<index>): motion is looked for, and "entered" judged (the first zone), only inside them.
     */
    zones: { type: 'array', items: zone, maxItems: 16 },
    motion: {
      type: 'object',
      properties: {
        enabled: { type: 'boolean' },
        width: { type: 'integer', minimum: 8, maximum: 1024 },
        pixelThreshold: { type: 'number', minimum: 0, maximum: 255 },
        minShare: share,
        keepAliveMs: { type: 'integer', minimum: 0, maximum: 3_600_000 },
      },
      additionalProperties: false,
    },
    tracker: {
      type: 'object',
      properties: {
        iouThreshold: share,
        maxAgeMs: { type: 'integer', minimum: 1, maximum: 600_000 },
        minHits: { type: 'integer', minimum: 1, maximum: 1000 },
        defectMinHits: { type: 'integer', minimum: 1, maximum: 1000 },
        defectMinShare: share,
        maxTracks: { type: 'integer', minimum: 1, maximum: 1000 },
        /** A detection continues only a track of its class (the defect class: any); false for a detector whose classes flicker. */
        classAware: { type: 'boolean' },
      },
      additionalProperties: false,
    },
    /** A `result` record of a frame's raw detections (the best maxDetections) on `<camera>.detections`, at most every everyMs of frame time. */
    detections: {
      type: 'object',
      properties: {
        everyMs: { type: 'integer', minimum: 100, maximum: 3_600_000 },
        maxDetections: { type: 'integer', minimum: 1, maximum: 100 },
      },
      required: ['everyMs'],
      additionalProperties: false,
    },
    /** A `result` record of the counts per zone and class on `<camera>.zones` when they changed, at most every everyMs of frame time (needs zones). */
    zoneCounts: {
      type: 'object',
      properties: { everyMs: { type: 'integer', minimum: 100, maximum: 3_600_000 } },
      required: ['everyMs'],
      additionalProperties: false,
    },
    /** Long side of the best crop sent with a defect event, in pixels (0: no crop). */
    cropMaxSize: { type: 'integer', minimum: 0, maximum: 512 },
  },
  required: ['type'],
  additionalProperties: false,
} as const;

export type VisionConfig = Infer<typeof visionSchema>;

/** The vision stage's cross-field rules, which a schema cannot say (run at `--check` and before every start). */
export function visionProblems(config: VisionConfig, ctx: CheckContext): PluginProblem[] {
  const problems: PluginProblem[] = [];
  const model = config.model;
  if (model?.managed !== undefined) {
    if (model.path !== undefined) problems.push({ path: ['model', 'managed'], expected: 'either model.managed or model.path, not both', got: 'both' });
    if (ctx.updates === null) problems.push({ path: ['model', 'managed'], expected: 'an `updates` section (managed models arrive as signed releases)', got: 'a config without one' });
  }
  if (model?.builtin !== undefined && (model.path !== undefined || model.managed !== undefined)) {
    problems.push({ path: ['model', 'builtin'], expected: 'one of model.builtin, model.path, model.managed', got: 'more than one' });
  }
  if (config.classifier?.builtin !== undefined && config.classifier.path !== undefined) {
    problems.push({ path: ['classifier', 'builtin'], expected: 'either classifier.builtin or classifier.path, not both', got: 'both' });
  }
  const layoutTask = config.layout === undefined || config.layout === 'auto' ? undefined : config.layout === 'classification' ? 'classification' : 'detection';
  if (config.task !== undefined && layoutTask !== undefined && layoutTask !== config.task) {
    problems.push({ path: ['layout'], expected: `a ${config.task} layout (${config.task === 'classification' ? 'classification' : 'yolov8, yolov5 or ssd'}) or auto`, got: String(config.layout) });
  }
  const classifies = config.task === 'classification' || layoutTask === 'classification';
  if (classifies && config.classifier !== undefined) problems.push({ path: ['classifier'], expected: 'no crop classifier with a whole-frame classification model (it names detected boxes)', got: 'one' });
  if (classifies && config.model?.path === undefined && config.model?.managed === undefined) {
    problems.push({ path: ['task'], expected: 'a classification model (model.path or model.managed): the built-in defect detector detects', got: config.task === 'classification' ? 'task classification' : 'layout classification' });
  }
  if (config.mean !== undefined && config.std !== undefined && config.mean.length !== config.std.length) {
    problems.push({ path: ['std'], expected: `as many values as mean (${config.mean.length})`, got: `${config.std.length}` });
  }
  for (const c of zoneNameClashes(config.zones ?? [])) {
    const other = c.otherByDefault ? `zones[${c.other}] is a bare polygon, called ${c.name} by default` : `zones[${c.other}] is called ${c.name}`;
    problems.push({ path: ['zones', c.index, 'name'], expected: `a name no other zone of the stage has (${other})`, got: JSON.stringify(c.name) });
  }
  if (config.zoneCounts !== undefined && (config.zones ?? []).length === 0) problems.push({ path: ['zoneCounts'], expected: 'zones to count in (zoneCounts counts per zone)', got: 'no zones' });
  return problems;
}
