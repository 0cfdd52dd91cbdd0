import { describe, expect, it } from 'vitest';
import { CameraSource } from '../../../devices/camera/camera-source.js';
import { CameraFeed } from '../../../sim/run/camera-feed.js';
import { waitFor } from '../../support/wait-for.js';
import { collectingContext } from '../../devices/camera/clip.js';

const FPS = 10;

/** The gateway's camera source on the feed, as a gateway's config makes it (without the pipeline). */
async function watch(feed: CameraFeed, frames: number): Promise<Readonly<Record<string, unknown>>> {
  const source = new CameraSource({ id: 'cam', stream: 'cam', streamFps: FPS, realtime: false, input: { tcp: feed.address }, reconnect: { minDelayMs: 10, maxDelayMs: 100 } });
  const c = collectingContext();
  await source.start(c.ctx);
  try {
    await waitFor(() => c.frames().length >= frames, `${frames} frames decoded`, 20_000);
    const first = c.frames()[0];
    expect(first?.frame.width).toBe(320);
    expect(first?.skippedBefore).toBe(0);
    return source.stats();
  } finally {
    await source.stop();
  }
}

describe('CameraFeed', () => {
  it('serves the conveyor live on TCP: each client that joins decodes from its first picture (a keyframe), with no error', async () => {
    const feed = await CameraFeed.start({ name: 'cam-test', fps: FPS, width: 320, height: 240, defectShare: 0.5, seed: 3 });
    try {
      // Before play the belt stands: pictures flow all the same, so a gateway connects and settles.
      const still = await watch(feed, 5);
      expect(still).toMatchObject({ decodeErrors: 0, droppedUntilKey: 0, lostPictures: 0 });
      expect(feed.counters.framesShown).toBe(0);
      feed.play();
      // A second client (a gateway started again) joins mid-stream: it is sent a keyframe at once.
      const moving = await watch(feed, 20);
      expect(moving).toMatchObject({ decodeErrors: 0, droppedUntilKey: 0, lostPictures: 0 });
      expect(moving['keyframes'] as number).toBeGreaterThanOrEqual(1);
      // (The first of them may be a still picture encoded just before play.)
      expect(feed.counters.framesShown).toBeGreaterThanOrEqual(19);
      expect(feed.counters).toMatchObject({ connections: 2, refused: 0, picturesDropped: 0, framesLate: 0 });
      // Each client waited at most for a picture already in the encoder, not for the next keyframe of the
      // stream's own cadence (one a second: up to 9 pictures at 10 fps).
      expect(feed.counters.picturesBeforeKey).toBeLessThanOrEqual(2);
      expect(feed.error).toBeUndefined();
    } finally {
      await feed.stop();
    }
  }, 60_000);
});
