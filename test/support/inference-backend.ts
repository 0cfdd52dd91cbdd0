import { onnxruntimeBackend } from '../../models/engine/backends/onnxruntime/index.js';
import type { InferenceBackend } from '../../models/engine/engine.js';
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
