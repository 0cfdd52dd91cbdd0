import type { FloatTensor } from '../../fleet/protocol/federated/tensor.js';
import type { LogErrorMomentsWire } from '../../fleet/protocol/federated/update-encoding.js';

/** One round's local training, as the announcement asks for it. */
export interface LocalTrainingRequest {
  /** The round's global model, ONNX bytes whose SHA-256 the round client checked against the announcement. */
  readonly globalModel: Uint8Array;
  readonly localEpochs: number;
  readonly learningRate: number;
  /** FedProx's mu (the term mu/2 ||w - w_global||^2); null: plain FedAvg. */
  readonly proximalMu: number | null;
  /** Aborted at the round's deadline or when the gateway stops: training gives up and rejects. */
  readonly signal: AbortSignal;
}

export interface LocalTrainingResult {
  /**
   * The weight delta, local minus global, float32, one tensor per float initializer of the
   * global model, with its name and dims, in the file's order.
   */
  readonly tensors: FloatTensor[];
  /** Training examples behind the delta (FedAvg's weight). */
  readonly samples: number;
  /** Loss of the locally trained model on held-out local data (never sent); null when none was held out. */
  readonly validationLoss: number | null;
  /**
   * The moments of ln(error) of the held-out windows under the GLOBAL model (before local
   * training), which the fleet pools into the released model's calibration; absent when none
   * was held out or the model has no such calibration. Sent only in plain rounds.
   */
  readonly calibration?: LogErrorMomentsWire;
}

/**
 * What a stage offers to learn with in a federated round: it trains the global model of
 * `model` on data it kept and returns the delta. The data never leaves the stage; the round
 * client sees only the delta and two numbers.
 */
export interface LocalLearner {
  /** The managed model (as releases name it) this learner trains; a round's `model.name`. */
  readonly model: string;
  train(request: LocalTrainingRequest): Promise<LocalTrainingResult>;
}

/** Why a learner could not train (too little data, a global model it cannot use). */
export class LearningError extends Error {
  override readonly name = 'LearningError';
  constructor(
    readonly code: 'E_LEARNING_NO_DATA' | 'E_LEARNING_MODEL' | 'E_LEARNING_ABORTED',
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/**
 * What a plug-in sees of federated learning (CreateEnv.learning, present only when the
 * gateway's `learning` section enables it): where to register a learner, and how much normal
 * data a learner may keep.
 */
export interface LearningHost {
  /** Windows (or examples) a learner keeps per stream at most. */
  readonly reservoirWindows: number;
  /** Share of them held out as local validation (never trained on, never sent: only its loss is). */
  readonly heldOutShare: number;
  /** Registers a learner; returns the call that removes it (the stage's stop). */
  register(learner: LocalLearner): () => void;
}

/** At most this many learners (a gateway has at most a few anomaly stages). */
const MAX_LEARNERS = 64;

/**
 * The learners stages registered, by model. Stages register themselves at creation: nothing
 * here knows stage types. Two stages learning the same model: the first registered is used
 * (a round trains one model once per gateway).
 */
export class LearnerRegistry implements LearningHost {
  private readonly learners: LocalLearner[] = [];

  constructor(
    readonly reservoirWindows: number,
    readonly heldOutShare: number,
  ) {}

  register(learner: LocalLearner): () => void {
    if (this.learners.length >= MAX_LEARNERS) throw new RangeError(`at most ${MAX_LEARNERS} federated learners per gateway`);
    this.learners.push(learner);
    return () => {
      const i = this.learners.indexOf(learner);
      if (i >= 0) this.learners.splice(i, 1);
    };
  }

  learnerFor(model: string): LocalLearner | undefined {
    return this.learners.find((l) => l.model === model);
  }

  models(): string[] {
    return [...new Set(this.learners.map((l) => l.model))].sort();
  }
}
