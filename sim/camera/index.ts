export { ConveyorScene } from './scene.js';
export { CameraSimError, type ConveyorSceneOptions } from './scene-options.js';
export { renderLabelledImage, type LabelledStill, type LabelledStillOptions } from './dataset.js';
export type { ConveyorFrame, PartDefect, PartShape, PartTruth, PixelBox } from './types.js';
