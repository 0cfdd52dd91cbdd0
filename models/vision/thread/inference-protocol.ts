import type { FrameModelInfo, FrameModelSpec, FrameOutput } from './frame-runner.js';
import type { FrameMessage } from './frame-transfer.js';

/**
 * Messages between a vision stage and its inference worker (inference-worker.ts). Each request
 * has an id and gets exactly one reply with it; the worker handles requests one at a time, in
 * the order they came.
 */
export type WorkerRequest =
  | { readonly type: 'load'; readonly id: number; readonly model: number; readonly spec: FrameModelSpec }
  | { readonly type: 'run'; readonly id: number; readonly model: number; readonly frame: FrameMessage; readonly tensor: boolean }
  | { readonly type: 'close'; readonly id: number; readonly model: number }
  /** Closes every model and ends the worker (after the requests before it). */
  | { readonly type: 'end'; readonly id: number }
  /** Ends the worker at once, as a crash would (after the requests before it): for tests of the restart. */
  | { readonly type: 'crash'; readonly id: number }
  /** Keeps the worker busy for `ms` without answering, as a hung one would: for tests of the timeout. */
  | { readonly type: 'stall'; readonly id: number; readonly ms: number };

export type WorkerReply =
  | { readonly id: number; readonly ok: true; readonly info?: FrameModelInfo; readonly output?: FrameOutput }
  /** `backend`: the worker could not build the gateway's backend (a load's reply; the stage then runs its models on its own thread). */
  | { readonly id: number; readonly ok: false; readonly message: string; readonly inferenceMs: number | undefined; readonly backend?: true };
