import { yoloDecoder } from './yolo-family.js';

/** YOLOv8, v9, v11 (Ultralytics `export format=onnx`): `[1, 4 + C, N]`, rows cx, cy, w, h then C class scores (sigmoid already), no objectness. */
export const yolov8Decoder = yoloDecoder('yolov8', 1, 4, '[1, 4 + C, N]');
