import type { Infer } from 'tjs';
import { providerListSchema } from '../../../../runtime/inference/backend-plugin.js';

/**
 * Execution providers onnxruntime-node knows by name (its binding's session options); which of
 * them a box really has depends on the build and the hardware (`availableProviders`). The npm
 * build has cpu and webgpu everywhere, cuda and tensorrt on x64 Linux (with CUDA 12 libraries),
 * dml on Windows, coreml on macOS; qnn needs a build of its own.
 */
export const ONNXRUNTIME_PROVIDERS = ['cpu', 'cuda', 'tensorrt', 'dml', 'coreml', 'qnn', 'webgpu'] as const;

/** Defaults of the onnxruntime backend, in one place (its README's table is written from here). */
export const ONNXRUNTIME_DEFAULTS = {
  providers: ['cpu'],
  // One thread per inference: on a small box waking ONNX Runtime's pool (one thread per core)
  // costs more than a small model's work, and the other cores decode video (measured for the
  // vision stage: models/vision/README.md). A big model on a big CPU wants `threads` raised.
  threads: 1,
} as const;

/** The gateway config's `inference` section when it chooses ONNX Runtime. */
export const onnxruntimeSchema = {
  type: 'object',
  properties: {
    backend: { const: 'onnxruntime' },
    /** Execution providers in order of preference, for every model whose stage names none. */
    providers: providerListSchema(ONNXRUNTIME_PROVIDERS),
    /** Threads one inference may use (intra-op), for every model whose stage names none. */
    threads: { type: 'integer', minimum: 1, maximum: 64 },
  },
  required: ['backend'],
  additionalProperties: false,
} as const;

export type OnnxruntimeSection = Infer<typeof onnxruntimeSchema>;
