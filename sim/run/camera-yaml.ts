/** The simulated camera's device id: its frames are stream `belt-cam`, the vision stage's events `belt-cam.events`. */
export const CAMERA_DEVICE_ID = 'belt-cam';
/** The vision stage's raw detections, sampled: the runner reads their frame times as the stage's progress. */
export const DETECTIONS_EVERY_MS = 1000;

/**
 * The config lines of a camera group: a `camera` device reading the simulator's live H.264 on
 * `address` (TCP, as from an encoder; reconnecting within a second, since the simulator's
 * camera is never far), and a pipeline with the `vision` stage on the repo's defect models
 * (the defaults: detector, crop classifier, `defective-part` as the defect class), its queue
 * of frames bounded and dropping the oldest. `detections` records, once a second of frame
 * time, say how far the stage has got (see camera-play.ts's settle).
 */
export function cameraYaml(address: string, fps: number): { devices: string[]; pipelines: string[] } {
  return {
    devices: [`  - { id: ${CAMERA_DEVICE_ID}, type: camera, input: { tcp: ${JSON.stringify(address)} }, streamFps: ${fps}, reconnect: { minDelayMs: 100, maxDelayMs: 1000 } }`],
    pipelines: [
      `  - id: ${CAMERA_DEVICE_ID}`,
      `    source: ${CAMERA_DEVICE_ID}`,
      '    queue: { maxRecords: 4, whenFull: dropOldest }',
      '    stages:',
      `      - { type: vision, detections: { everyMs: ${DETECTIONS_EVERY_MS}, maxDetections: 4 } }`,
    ],
  };
}
