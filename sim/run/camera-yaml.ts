import { VISION_DEFAULTS } from '../../models/vision/defaults.js';

/** The simulated camera's device id: its frames are stream `belt-cam`, the vision stage's events `belt-cam.events`. */
export const CAMERA_DEVICE_ID = 'belt-cam';
/** The vision stage's raw detections, sampled: the runner reads their frame times as the stage's progress. */
export const DETECTIONS_EVERY_MS = 1000;

/** The vision stage's default: a track unseen for this long ends. */
const DEFAULT_TRACK_MAX_AGE_MS = VISION_DEFAULTS.tracker.maxAgeMs;
/** The longest gap a track may be continued across: what the default allows at 5 fps (5 frames unseen, matched at the 6th). */
const MAX_TRACK_GAP_MS = 1200;

/**
 * How long a track may go unseen: the stage's default (1 s) from 5 fps up, shorter for a
 * slower camera, so that no track is continued across more than 1.2 s. The tracker tries to
 * continue a track before it ends it, and its predicted spread grows with the gap: at 2 fps
 * with the default a track whose part had left was matched 1.5 s later to a part entering on
 * the other side, so tracks ran on for the whole run and half the defective parts had no
 * event (5 of 10 in 30 s); with 700 ms, 9 of 10.
 */
export function trackMaxAgeMs(fps: number): number {
  return Math.max(1, Math.round(Math.min(DEFAULT_TRACK_MAX_AGE_MS, MAX_TRACK_GAP_MS - 1000 / fps)));
}

/**
 * The config lines of a camera group: a `camera` device reading the simulator's live H.264 on
 * `address` (TCP, as from an encoder; reconnecting within a second, since the simulator's
 * camera is never far), and a pipeline with the `vision` stage on the repo's defect models
 * (the defaults: detector, crop classifier, `defective-part` as the defect class), its queue
 * of frames bounded and dropping the oldest, tracks ended as `trackMaxAgeMs` says. `detections` records, once a second of frame
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
      `      - { type: vision, detections: { everyMs: ${DETECTIONS_EVERY_MS}, maxDetections: 4 }, tracker: { maxAgeMs: ${trackMaxAgeMs(fps)} } }`,
    ],
  };
}
