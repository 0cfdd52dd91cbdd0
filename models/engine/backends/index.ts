import type { BackendPlugin } from '../../../runtime/inference/backend-plugin.js';
import { onnxruntimeBackend } from './onnxruntime/index.js';

/**
 * Every built-in inference backend. A new one (Hailo, RKNN, Coral...) is a folder beside
 * onnxruntime/ and one line here (models/engine/README.md, "Adding a backend").
 */
export const inferenceBackends: readonly BackendPlugin[] = [onnxruntimeBackend];
