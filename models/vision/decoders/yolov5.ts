import { yoloDecoder } from './yolo-family.js';

/** YOLOv5, v7: `[1, N, 5 + C]`, columns cx, cy, w, h, objectness, C class scores; the score is objectness x class score. */
export const yolov5Decoder = yoloDecoder('yolov5', 2, 5, '[1, N, 5 + C]');
