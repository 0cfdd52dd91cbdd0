import type { Command } from 'commander';

/**
 * `edgewise model ...`: a plant's own data in, a signed release out (issue 17).
 *   model train vision|anomaly  a dataset folder or CSV logs -> MODEL_DIR (models/model-dir)
 *   model eval                  MODEL_DIR on a dataset -> metrics, report.html, the JSON line last
 *   model release               MODEL_DIR -> a staged release in the TUF repository
 * Exit codes: 0 done, 2 bad input (the dataset, the MODEL_DIR, an option: the message names the
 * file and line), 1 anything else. Each command's code is loaded only when it runs.
 */
export function registerModelCommands(program: Command, commander: typeof import('commander'), exit: (code: number) => void): void {
  const model = program.command('model').description('Bring your own data: train, evaluate and release models from a plant\'s own labelled images and sensor logs.').exitOverride();
  const train = model.command('train').description('Train a model: `vision` from a dataset folder (YOLO layout or a folder per class), `anomaly` from CSV sensor logs.').exitOverride();
  const int = (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0) throw new commander.InvalidArgumentError(`expected a whole number, got "${v}"`);
    return n;
  };

  train
    .command('anomaly')
    .description('Train the anomaly autoencoder on CSV logs (timestamp plus channels; units in the header or a side file; an optional label column: rows labelled 1 are left out) and calibrate its score scale on held-out normal windows.')
    .requiredOption('--data <file|dir>', 'a CSV log or a folder of them')
    .requiredOption('--out <dir>', 'the MODEL_DIR to write')
    .option('--epochs <n>', 'passes over the training windows (default 30)', int)
    .option('--seed <n>', 'seed: the same data and seed give the same model', int)
    .option('--window-samples <n>', 'samples per window (default 32)', int)
    .option('--stride-samples <n>', 'samples between windows (default 16)', int)
    .option('--rate-hz <hz>', 'resample every log to this rate (default: the logs\' own, which must agree)', Number)
    .option('--resume', 'continue from the checkpoint in --out (after a stop or a crash)')
    .exitOverride()
    .action(async (o: { data: string; out: string; epochs?: number; seed?: number; windowSamples?: number; strideSamples?: number; rateHz?: number; resume?: boolean }) => {
      const [{ runModelTrainAnomaly }, { readSensorLogs }] = await Promise.all([import('../models/anomaly/csv-training/run-model-anomaly.js'), import('../models/datasets/index.js')]);
      const display = (await import('./training-progress.js')).trainingDisplayFor(process.stderr);
      try {
        exit(await withStop((signal) => runModelTrainAnomaly(o, { stdout: process.stdout, stderr: process.stderr, signal, onProgress: (p) => display.update(p) }, (path) => readSensorLogs(path))));
      } finally {
        display.done();
      }
    });

  train
    .command('vision')
    .description('Train a vision model on a dataset folder: YOLO layout (data.yaml, images/{train,val}, labels/{train,val}) for a detector, a folder per class for a classifier.')
    .requiredOption('--data <dir>', 'the dataset folder')
    .requiredOption('--out <dir>', 'the MODEL_DIR to write')
    .option('--task <task>', 'detect or classify (default: detect when the folder has a data.yaml)')
    .option('--epochs <n>', 'passes over the training images', int)
    .option('--seed <n>', 'seed: the same data and seed give the same model', int, 1)
    .option('--resume', 'continue from the checkpoint in --out (after a stop or a crash)')
    .exitOverride()
    .action(async (o: { data: string; out: string; task?: string; epochs?: number; seed: number; resume?: boolean }) => {
      if (o.task !== undefined && o.task !== 'detect' && o.task !== 'classify') {
        process.stderr.write(`error: --task: expected detect or classify, got "${o.task}"\n`);
        exit(2);
        return;
      }
      exit(await withStop((signal) => trainVision({ ...o, task: o.task as 'detect' | 'classify' | undefined }, signal)));
    });

  model
    .command('eval')
    .description('Evaluate a MODEL_DIR on a dataset as a gateway would run it: per-class precision, recall, mAP50 and mAP50-95 (detection), accuracy and confusion matrix (classification), faults caught and false alerts (anomaly); report.html and metrics.json, the JSON line last.')
    .requiredOption('--model <dir>', 'the MODEL_DIR (written by `edgewise model train`)')
    .requiredOption('--data <dir|file>', 'the dataset: a folder (vision) or CSV logs (anomaly)')
    .option('--report <file>', 'where report.html goes (default MODEL_DIR/eval/report.html)')
    .option('--threshold <x>', 'operating threshold (default the card\'s)', Number)
    .option('--split <split>', 'train or val (default val)')
    .exitOverride()
    .action(async (o: { model: string; data: string; report?: string; threshold?: number; split?: 'train' | 'val' }) => {
      if (o.split !== undefined && o.split !== 'train' && o.split !== 'val') {
        process.stderr.write(`error: --split: expected train or val, got "${o.split}"\n`);
        exit(2);
        return;
      }
      const [{ runModelEval }, { runModelEvalAnomaly }, { readVisionDataset, readSensorLogs }, { readModelDir }] = await Promise.all([
        import('../models/eval/eval-command.js'),
        import('../models/anomaly/csv-training/run-model-anomaly.js'),
        import('../models/datasets/index.js'),
        import('../models/model-dir/model-dir.js'),
      ]);
      // An anomaly model is judged on logs (faults caught, false alerts), a vision model on images.
      const task = await readModelDir(o.model).then(
        (m) => m.card.task,
        () => undefined,
      );
      if (task === 'anomaly') {
        // An anomaly model is judged at the alert policy it runs with on the gateway, over whole logs: these options have nothing to act on.
        const unused = [o.threshold === undefined ? '' : '--threshold', o.split === undefined ? '' : '--split'].filter((x) => x !== '');
        if (unused.length > 0) {
          process.stderr.write(`error: ${unused.join(' and ')}: apply to vision models; ${o.model} is an anomaly model, judged at its card's alert level on every row of the logs\n`);
          exit(2);
          return;
        }
        exit(await runModelEvalAnomaly({ model: o.model, data: o.data, ...(o.report === undefined ? {} : { report: o.report }) }, { stdout: process.stdout, stderr: process.stderr }, (path) => readSensorLogs(path)));
        return;
      }
      exit(
        await runModelEval({
          model: o.model,
          data: o.data,
          ...(o.report === undefined ? {} : { report: o.report }),
          ...(o.threshold === undefined ? {} : { threshold: o.threshold }),
          ...(o.split === undefined ? {} : { split: o.split }),
          readDataset: (dir, t) => readVisionDataset(dir, t),
        }),
      );
    });

  const many = (v: string, all: string[]): string[] => [...all, v];
  model
    .command('release')
    .description('Stage a MODEL_DIR in the TUF repository as a model release: golden input and output from the dataset\'s val split, a latency budget measured here, an evaluation set for the rollout\'s quality gate; then `repo sign`, `repo publish` and `fleet rollout create`.')
    .requiredOption('--model <dir>', 'the MODEL_DIR (written by `edgewise model train`)')
    .requiredOption('--repo <dir>', 'the TUF repository (`edgewise repo init`)')
    .requiredOption('--model-name <name>', 'the release\'s model name (what a gateway\'s `model: { managed: NAME }` names)')
    .option('--data <dir|file>', 'the dataset it was trained on: its val split gives the golden input and the evaluation set (without it: a synthetic golden input, no evaluation set)')
    .option('--release <n>', 'release counter (default: one above the highest published or staged release of the model)')
    .option('--model-version <v>', 'version for people (default: r<release> and the day training finished)')
    .option('--arch <list>', 'x64,arm64,arm', 'x64,arm64')
    .option('--accelerators <list>', 'execution providers, one of which is needed', 'cpu')
    .option('--min-runtime <semver>', 'oldest edgewise runtime (default this one)')
    .option('--error-rate-ppm <n>', 'failed runs allowed in probation, per million')
    .option('--probation-s <n>', 'probation after activation')
    .option('--latency-runs <n>', 'timed runs for the latency budget, at most (default 200)')
    .option('--max-evaluation-frames <n>', 'frames in the evaluation set, at most (default 48)')
    .option('--signed-by <role>', 'sign with this delegated role instead of staging in the top-level targets')
    .option('--role-key <file>', 'private key of the --signed-by role (repeatable)', many, [] as string[])
    .exitOverride()
    .action(async (o: Omit<import('./model-release.js').ModelReleaseOptions, 'version' | 'readData'> & { modelVersion?: string }) => {
      const [{ runModelRelease }, { readVisionDataset, readSensorLogs }] = await Promise.all([import('./model-release.js'), import('../models/datasets/index.js')]);
      const { modelVersion, ...rest } = o;
      exit(
        await runModelRelease({
          ...rest,
          ...(modelVersion === undefined ? {} : { version: modelVersion }),
          readData: (path, task) => (task === 'anomaly' ? readSensorLogs(path) : readVisionDataset(path, task)),
        }),
      );
    });
}

/** Reads the dataset (a bad one: every problem at file:line, exit 2), says what is in it, trains with the display. */
async function trainVision(o: { data: string; out: string; task: 'detect' | 'classify' | undefined; epochs?: number; seed: number; resume?: boolean }, signal: AbortSignal): Promise<number> {
  const [{ readVisionDataset, summarizeVisionDataset, formatVisionSummary }, { trainingDisplayFor }] = await Promise.all([import('../models/datasets/index.js'), import('./training-progress.js')]);
  let dataset;
  try {
    dataset = await readVisionDataset(o.data, o.task, { onWarning: (w) => process.stderr.write(`warning: ${w.file}: ${w.message}\n`) });
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    process.stderr.write(`error: ${(err as Error).message}\n`);
    return code === 'E_DATASET' ? 2 : 1;
  }
  for (const line of formatVisionSummary(summarizeVisionDataset(dataset))) process.stderr.write(`${line}\n`);
  const display = trainingDisplayFor(process.stderr);
  try {
    if (dataset.task === 'classify') {
      const { runModelTrainClassify } = await import('../models/vision/image-classifier/run.js');
      return await runModelTrainClassify({
        dataset,
        outDir: o.out,
        epochs: o.epochs ?? 20,
        seed: o.seed,
        resume: o.resume === true,
        onProgress: (p) => display.update(p),
        signal,
        say: (line) => display.line(line),
        sayError: (line) => display.line(`error: ${line}`),
        json: (line) => void process.stdout.write(`${line}\n`),
      });
    }
    const [{ runTraining }, { trainSmallDetector }] = await Promise.all([import('../models/model-dir/run-training.js'), import('../models/vision/small-detector/train.js')]);
    return await runTraining(() => trainSmallDetector(dataset, { outDir: o.out, epochs: o.epochs ?? 30, seed: o.seed, resume: o.resume === true, onProgress: (p) => display.update(p), signal }), {
      outDir: o.out,
      signal,
      say: (line) => display.line(line),
      sayError: (line) => display.line(`error: ${line}`),
      json: (line) => void process.stdout.write(`${line}\n`),
    });
  } finally {
    display.done();
  }
}

/** Runs a long command with Ctrl-C (SIGINT, SIGTERM) turned into a stop: the last finished epoch's checkpoint is kept for --resume. */
async function withStop(run: (signal: AbortSignal) => Promise<number>): Promise<number> {
  const stop = new AbortController();
  const onSignal = (): void => {
    if (stop.signal.aborted) process.exit(130);
    // The trainers stop between batches (the detector, the classifier) or after the epoch (the autoencoder); each keeps its last finished epoch.
    process.stderr.write('stopping; the checkpoint of the last finished epoch is kept: run again with --resume; Ctrl-C again to quit now\n');
    stop.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    return await run(stop.signal);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
