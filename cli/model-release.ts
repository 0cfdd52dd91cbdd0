import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { modelReleaseSchema, modelReleaseTarget } from '../fleet/protocol/model-release.js';
import { highestRelease, isRepository } from '../fleet/repo/release-counter.js';
import { repoAddModel } from '../fleet/repo/repo-command.js';
import { parseMeta } from '../models/anomaly/autoencoder/model.js';
import type { RgbImage, SensorLog, VisionDataset } from '../models/datasets/types.js';
import type { ModelCard, ModelTask } from '../models/model-dir/model-card.js';
import { ModelDirError, readModelDir } from '../models/model-dir/model-dir.js';
import { readModelInfo, type ModelInfo } from '../models/onnx/model-info.js';
import { modelClassNames } from '../models/vision/class-names.js';
import { RUNTIME_VERSION } from '../runtime/version.js';
import { ModelReleaseError } from './model-release-error.js';
import { DEFAULT_EVALUATION_LIMITS, anomalyEvaluationSet, visionEvaluationSet, type MadeEvaluationSet } from './model-release-evaluation.js';
import { anomalyGoldenInput, goldenRun, visionGoldenInput, type GoldenInput } from './model-release-golden.js';
import { DEFAULT_MAX_RUNS, MIN_RUNS, PI_CLASS_FACTOR, measureLatency } from './model-release-latency.js';

/** What `--data` holds once read: a vision dataset (detect, classify) or sensor logs (anomaly). */
export type ReleaseData = VisionDataset | readonly SensorLog[];

export interface ModelReleaseOptions {
  /** MODEL_DIR, as `edgewise model train` wrote it. */
  readonly model: string;
  /** The TUF repository (`edgewise repo init`). */
  readonly repo: string;
  /** The model's name in releases (what gateways' `model: { managed: NAME }` names). */
  readonly modelName: string;
  /** Release counter; default one above the highest published or staged release of the model. */
  readonly release?: string | number;
  /** For people (at most 32 characters); default `r<release> <date the training finished>`. */
  readonly version?: string;
  /** The dataset the model was trained on: its val split gives the golden input and the evaluation set. */
  readonly data?: string;
  /** Reads `data` (models/datasets: readVisionDataset for vision cards, readSensorLog for anomaly). */
  readonly readData?: (path: string, task: ModelTask) => Promise<ReleaseData>;
  /** Comma-separated: x64,arm64,arm (default x64,arm64). */
  readonly arch?: string;
  /** Comma-separated execution providers, one of which is needed (default cpu). */
  readonly accelerators?: string;
  /** Oldest runtime that can run it (default: this runtime's version, which reads model cards). */
  readonly minRuntime?: string;
  readonly errorRatePpm?: string;
  readonly probationS?: string;
  /** Timed runs for the latency budget at most (default 200; at least 20). */
  readonly latencyRuns?: string | number;
  /** Evaluation frames at most (default 48). */
  readonly maxEvaluationFrames?: string | number;
  /** Sign with this delegated role (and its keys) instead of staging in the top-level targets. */
  readonly signedBy?: string;
  readonly roleKey?: readonly string[];
}

const NAME = new RegExp(modelReleaseSchema.properties.model.pattern);

function count(v: string | number | undefined, what: string, fallback: number, min = 1): number {
  if (v === undefined) return fallback;
  const s = String(v);
  if (!/^\d+$/.test(s) || Number(s) < min || !Number.isSafeInteger(Number(s))) throw new ModelReleaseError(`--${what}: expected a whole number of at least ${min}, got ${JSON.stringify(s)}`);
  return Number(s);
}

const isLogs = (d: ReleaseData): d is readonly SensorLog[] => Array.isArray(d);

/** The card's class names must be the ones the model file carries: the gateway names its events by the file's. */
function checkClassNames(card: ModelCard, info: ModelInfo, dir: string): void {
  if (card.task === 'anomaly') return;
  const found = modelClassNames(info.metadata);
  if (found === undefined || 'error' in found) {
    throw new ModelReleaseError(`${join(dir, 'model.onnx')}: no readable class names in its metadata (${found === undefined ? 'no classNames or names entry' : found.error}); the gateway would name events class0, class1, ...: export it with classNames ${card.classNames.join(',')}`);
  }
  if (found.names.join('\n') !== card.classNames.join('\n')) throw new ModelReleaseError(`${join(dir, 'model.onnx')}: its metadata names the classes ${found.names.join(', ')}, its card ${card.classNames.join(', ')}; the gateway names events by the model file's, so they must agree`);
}

/** The release counter: given (and above every earlier one), or one above the highest. */
async function releaseCounter(o: ModelReleaseOptions): Promise<number> {
  const highest = await highestRelease(o.repo, o.modelName);
  if (o.release === undefined) return (highest?.release ?? 0) + 1;
  const release = count(o.release, 'release', 1);
  if (highest !== undefined && release <= highest.release) {
    throw new ModelReleaseError(`--release ${release}: ${o.modelName} already has release ${highest.release} (${highest.where}: ${highest.target}); gateways refuse a release not above the highest they accepted, so give ${highest.release + 1} or more (or leave --release out)`);
  }
  return release;
}

async function readData(o: ModelReleaseOptions, card: ModelCard): Promise<ReleaseData | undefined> {
  if (o.data === undefined) return undefined;
  if (o.readData === undefined) throw new ModelReleaseError(`--data ${o.data}: this build cannot read datasets here (no dataset reader given)`);
  const data = await o.readData(o.data, card.task);
  if (card.task === 'anomaly' ? !isLogs(data) : isLogs(data) || data.task !== card.task) {
    throw new ModelReleaseError(`--data ${o.data}: a ${isLogs(data) ? 'sensor log' : `${data.task} dataset`}, and the model is a ${card.task} model`);
  }
  if (!isLogs(data) && data.classNames.join('\n') !== card.classNames.join('\n')) {
    throw new ModelReleaseError(`--data ${o.data}: its classes are ${data.classNames.join(', ')}, the model's ${card.classNames.join(', ')}: release it with the dataset it was trained on`);
  }
  return data;
}

/** The golden input: the first image of the val split (else train) or the first normal window of the logs; synthetic without data. */
async function goldenInput(card: ModelCard, bytes: Uint8Array, inputs: ModelInfo['inputs'], data: ReleaseData | undefined): Promise<GoldenInput> {
  if (card.task === 'anomaly') {
    const name = inputs[0]?.name;
    if (name === undefined) throw new ModelReleaseError('the model has no input');
    return anomalyGoldenInput(bytes, name, data === undefined ? undefined : (data as readonly SensorLog[]));
  }
  const input = card.input;
  if (input === undefined) throw new ModelReleaseError('the card has no input');
  const spec = inputs.find((i) => i.name === input.name);
  if (spec === undefined) throw new ModelReleaseError(`the card's input "${input.name}" is not an input of the model (it has ${inputs.map((i) => i.name).join(', ')})`);
  const want = [1, input.channels, input.height, input.width];
  // A symbolic dimension (batch, a dynamic size) takes what the card says.
  if (spec.shape.length !== 4 || spec.shape.some((d, k) => typeof d === 'number' && d !== want[k])) {
    throw new ModelReleaseError(`the card's input "${input.name}" is [${want.join(', ')}] (channels ${input.channels}, ${input.width}x${input.height}), the model's [${spec.shape.join(', ')}]`);
  }
  const d = data as VisionDataset | undefined;
  const sample = d === undefined ? undefined : (d.val[0] ?? d.train[0]);
  let image: RgbImage | undefined;
  if (sample !== undefined) image = await sample.load();
  return visionGoldenInput(input, image, sample?.file ?? '');
}

async function evaluationSet(card: ModelCard, bytes: Uint8Array, data: ReleaseData | undefined, maxFrames: number): Promise<{ set: MadeEvaluationSet | undefined; why: string }> {
  if (data === undefined) return { set: undefined, why: 'none (no --data): a rollout\'s quality gate judges agreement with the active model' };
  if (!isLogs(data) && data.task === 'classify') return { set: undefined, why: 'none: evaluation sets score detectors and autoencoders, not whole-frame classifiers (a rollout\'s quality gate judges class agreement)' };
  const limits = { ...DEFAULT_EVALUATION_LIMITS, maxFrames };
  const made = isLogs(data) ? anomalyEvaluationSet(bytes, data, limits) : await visionEvaluationSet(data, Math.max(card.input?.width ?? 0, card.input?.height ?? 0), limits);
  return 'bytes' in made ? { set: made, why: made.summary } : { set: undefined, why: `none: ${made.why}` };
}

/** The stage config a gateway needs to run the release (the vision stage takes mean/std from its config, not the model). */
function gatewayConfig(card: ModelCard, name: string, bytes: Uint8Array): string {
  if (card.task === 'anomaly') return `{ type: anomaly, detector: autoencoder, autoencoder: { managed: ${name}, windowSamples: ${parseMeta(bytes).windowSamples} } }`;
  const i = card.input;
  return `{ type: vision, model: { managed: ${name} }${card.task === 'classify' ? ', task: classification' : ''}, mean: [${i?.mean.join(', ') ?? ''}], std: [${i?.std.join(', ') ?? ''}], confidence: ${card.threshold} }`;
}

const isBadInput = (err: unknown): boolean => {
  const code = (err as { code?: unknown }).code;
  return err instanceof ModelReleaseError || err instanceof ModelDirError || code === 'E_DATASET' || code === 'E_MODEL_INVALID' || code === 'E_PAYLOAD_INVALID' || code === 'E_REPO_INPUT';
};

/**
 * `edgewise model release --model MODEL_DIR --repo REPO --model-name NAME`: a trained model
 * into the TUF repository as a release, staged exactly as `edgewise repo add-model` stages one
 * (it calls it), with what add-model needs made here:
 * - the golden input, made as the gateway makes one (the val split's first image through the
 *   vision stage's Preprocessor, or the logs' first normal window normalised as the anomaly
 *   stage does), and the golden output from ONNX Runtime on this machine, with a tolerance for
 *   other CPUs (model-release-golden.ts: 1e-4 of the largest output value, and why);
 * - the latency budget: the model timed here on one thread, times a Pi-class factor
 *   (model-release-latency.ts: 8x, and why); hardware x64,arm64 with the cpu provider;
 * - the evaluation set a rollout's quality gate scores (vision-frames from the val split,
 *   anomaly-windows from labelled logs), bounded.
 * Prints what was staged, the stage config a gateway needs and the next commands, and a JSON
 * line last. Exit 0; 2 when an input is refused (the message names it); 1 on a failure.
 */
export async function runModelRelease(o: ModelReleaseOptions): Promise<number> {
  let work: string | undefined;
  try {
    if (!NAME.test(o.modelName)) throw new ModelReleaseError(`--model-name ${JSON.stringify(o.modelName)}: lower-case letters, digits, ".", "_" and "-", starting with a letter or digit, at most 64`);
    const { card, model } = await readModelDir(o.model);
    if (!(await isRepository(o.repo))) throw new ModelReleaseError(`--repo ${o.repo}: not a TUF repository (no staged or published targets metadata): make one with \`edgewise repo init\``);
    if (typeof (card.output as Partial<ModelCard['output']> | undefined)?.name !== 'string') throw new ModelReleaseError(`${join(o.model, 'model.json')}: output.name: the card must name the model's output`);
    let info: ModelInfo;
    try {
      info = readModelInfo(model);
    } catch (err) {
      throw new ModelReleaseError(`${join(o.model, 'model.onnx')}: not an ONNX model (${(err as Error).message})`);
    }
    checkClassNames(card, info, o.model);
    const release = await releaseCounter(o);
    const finished = (card.training as Partial<ModelCard['training']> | undefined)?.finishedAt;
    const version = o.version ?? `r${release}${typeof finished === 'string' ? ` ${finished.slice(0, 10)}` : ''}`;
    if (version.length < 1 || version.length > 32) throw new ModelReleaseError(`--version ${JSON.stringify(version)}: 1 to 32 characters`);
    const latencyRuns = count(o.latencyRuns, 'latency-runs', DEFAULT_MAX_RUNS, MIN_RUNS);
    const maxFrames = count(o.maxEvaluationFrames, 'max-evaluation-frames', DEFAULT_EVALUATION_LIMITS.maxFrames);
    const data = await readData(o, card);

    const input = await goldenInput(card, model, info.inputs, data);
    const golden = await goldenRun(model, input, card.output.name);
    const latency = await measureLatency(model, input, latencyRuns);
    const evaluation = await evaluationSet(card, model, data, maxFrames);

    work = await mkdtemp(join(tmpdir(), 'edgewise-model-release-'));
    const files = { model: join(work, 'model.onnx'), goldenInput: join(work, 'golden-input.bin'), goldenOutput: join(work, 'golden-output.bin'), evaluationSet: join(work, 'evaluation.cbor') };
    // The bytes read and run here, not the file again: what is released is what was measured.
    await writeFile(files.model, model);
    await writeFile(files.goldenInput, new Uint8Array(input.data.buffer, input.data.byteOffset, input.data.byteLength));
    await writeFile(files.goldenOutput, new Uint8Array(golden.output.buffer, golden.output.byteOffset, golden.output.byteLength));
    if (evaluation.set !== undefined) await writeFile(files.evaluationSet, evaluation.set.bytes);

    const out = process.stdout;
    out.write(`${o.modelName} release ${release} (${JSON.stringify(version)}): a ${card.task} model, classes ${card.classNames.join(', ')}, from ${o.model}\n`);
    out.write(`golden run: ${input.source}; input "${input.inputName}" [${input.dims.join(', ')}], output "${card.output.name}" (${golden.output.length} values), tolerance ${golden.tolerance} (other kernels differ here by ${golden.kernelSpread.toPrecision(2)})\n`);
    out.write(`latency here, one thread: first run ${latency.firstMs.toFixed(2)} ms, median ${latency.medianMs.toFixed(2)} ms, p99 ${latency.p99Ms.toFixed(2)} ms over ${latency.runs} runs; budget ${latency.budgetMs} ms (${PI_CLASS_FACTOR}x the slower of p99 and first run, for a Pi-class CPU)\n`);
    out.write(`evaluation set: ${evaluation.why}\n`);
    const code = await repoAddModel({
      repo: o.repo,
      model: files.model,
      goldenInput: files.goldenInput,
      goldenOutput: files.goldenOutput,
      name: o.modelName,
      release: String(release),
      modelVersion: version,
      arch: o.arch ?? 'x64,arm64',
      accelerators: o.accelerators ?? 'cpu',
      minRuntime: o.minRuntime ?? RUNTIME_VERSION,
      inputName: input.inputName,
      dims: input.dims.join(','),
      outputName: card.output.name,
      tolerance: golden.tolerance,
      latencyMs: String(latency.budgetMs),
      errorRatePpm: o.errorRatePpm ?? '1000',
      probationS: o.probationS ?? '600',
      ...(evaluation.set === undefined ? {} : { evaluationSet: files.evaluationSet }),
      ...(o.signedBy === undefined ? {} : { signedBy: o.signedBy }),
      ...(o.roleKey === undefined ? {} : { roleKey: o.roleKey }),
    });
    if (code !== 0) return code;
    const target = modelReleaseTarget(o.modelName, release);
    out.write(`gateway stage: ${gatewayConfig(card, o.modelName, model)} (with \`updates: { models: [${o.modelName}] }\`)\n`);
    out.write('next:\n');
    if (o.signedBy === undefined) out.write(`  edgewise repo sign --repo ${o.repo} --role targets --key <targets key>\n`);
    out.write(`  edgewise repo publish --repo ${o.repo} --snapshot-key <snapshot key> --timestamp-key <timestamp key>\n`);
    out.write(`  edgewise fleet rollout create --data <fleet data dir> --target ${target}${evaluation.set === undefined ? '' : ' --shadow 200'}\n`);
    out.write(
      `${JSON.stringify({
        release: o.modelName,
        counter: release,
        target,
        version,
        task: card.task,
        classes: card.classNames,
        tolerance: golden.tolerance,
        latency_ms: { first: round(latency.firstMs), median: round(latency.medianMs), p99: round(latency.p99Ms), budget: latency.budgetMs },
        evaluation: evaluation.set === undefined ? null : evaluation.set.summary,
        staged: o.signedBy === undefined ? 'targets' : o.signedBy,
      })}\n`,
    );
    return 0;
  } catch (err) {
    process.stderr.write(`edgewise model release: ${(err as Error).message}\n`);
    return isBadInput(err) ? 2 : 1;
  } finally {
    if (work !== undefined) await rm(work, { recursive: true, force: true });
  }
}

const round = (x: number): number => Math.round(x * 1000) / 1000;
