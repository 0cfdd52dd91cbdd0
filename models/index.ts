import type { StagePlugin } from '../runtime/pipeline/registry.js';
import { anomalyStagePlugin } from './anomaly/index.js';
import { visionStagePlugin } from './vision/index.js';

/** Every built-in model stage. A new task is a folder under models/ and one line here. */
export const modelStagePlugins: readonly StagePlugin[] = [anomalyStagePlugin, visionStagePlugin];
