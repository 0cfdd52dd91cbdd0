export { trainImageClassifier, confidenceThreshold, ARCHITECTURE, type ImageClassifierOptions } from './train.js';
export { exportImageClassifier, exportFrontEnd, CLASSIFIER_INPUT, CLASSIFIER_OUTPUT, type FeatureScaling } from './export.js';
export { featureCount, type FrontEndOptions } from './front-end.js';
export { DEFAULT_AUGMENT, type AugmentOptions } from './augment.js';
export { rgbFrame } from './input-images.js';
export { TrainingDataError, CheckpointMismatchError } from './errors.js';
export { runModelTrainClassify, type RunModelTrainClassifyOptions } from './run.js';
