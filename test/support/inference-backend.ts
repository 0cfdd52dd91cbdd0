import { onnxruntimeBackend } from '../../models/engine/backends/onnxruntime/index.js';
import type { BackendRecipe, InferenceBackend } from '../../models/engine/engine.js';
import { LazyBackend } from '../../runtime/inference/lazy-backend.js';

/**
 * The backend a gateway without an `inference` section builds (ONNX Runtime on cpu, one thread
 * per inference), for tests that create a stage outside a gateway and hand it `env.backend`.
 */
export function defaultBackend(): InferenceBackend {
  const section = onnxruntimeBackend.validate({ backend: 'onnxruntime' });
  if (section.error !== undefined) throw new Error('the onnxruntime backend refuses its own default section');
  return new LazyBackend(onnxruntimeBackend, section.value);
}

/** How a worker thread builds the default backend (for tests that start a vision stage's inference thread themselves). */
export function defaultBackendRecipe(): BackendRecipe {
  const recipe = defaultBackend().recipe?.();
  if (recipe === undefined || 'unavailable' in recipe) throw new Error('the onnxruntime backend cannot be built in a worker thread');
  return recipe;
}
