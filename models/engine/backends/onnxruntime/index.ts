import { defineBackend } from '../../../../runtime/inference/backend-plugin.js';
import { ONNXRUNTIME_DEFAULTS, ONNXRUNTIME_PROVIDERS, onnxruntimeSchema } from './schema.js';

/**
 * ONNX Runtime (onnxruntime-node) as the gateway's inference backend, `inference: { backend:
 * onnxruntime }` (the default). The implementation (onnx-backend.ts) is imported by `create`:
 * until a model or the provider probe needs it, a gateway holds none of it.
 */
export const onnxruntimeBackend = defineBackend({
  name: 'onnxruntime',
  providers: ONNXRUNTIME_PROVIDERS,
  configSchema: onnxruntimeSchema,
  // Each thread that imports onnxruntime-node gets its own binding and sessions: a worker builds its own backend.
  worker: { module: import.meta.url },
  create: async (config) => {
    const { OnnxBackend } = await import('./onnx-backend.js');
    return new OnnxBackend({ providers: config.providers ?? ONNXRUNTIME_DEFAULTS.providers, threads: config.threads ?? ONNXRUNTIME_DEFAULTS.threads });
  },
});
