import { describe, expect, it } from 'vitest';
import { packedLayout, type RawFrame } from '../../../runtime/pipeline/frame.js';
import { MotionGate } from '../../../models/vision/motion.js';

const W = 320;
const H = 180;

/** A grey frame with a bright square at (x, y), plus +-1 of noise. */
function frame(tsMs: number, square: { x: number; y: number } | undefined, seed = tsMs): RawFrame {
  const { layout, size } = packedLayout('I420', W, H);
  const data = new Uint8Array(size).fill(128);
  let s = seed + 1;
  for (let i = 0; i < W * H; i += 1) {
    s = (s * 1103515245 + 12345) >>> 0;
    data[i] = 80 + ((s >>> 16) % 3);
  }
  if (square !== undefined) for (let y = square.y; y < square.y + 30; y += 1) for (let x = square.x; x < square.x + 30; x += 1) data[y * W + x] = 220;
  return { format: 'I420', width: W, height: H, data, layout, timestampUs: tsMs * 1000 };
}

describe('motion gate', () => {
  const options = { width: 64, pixelThreshold: 10, minShare: 0.002, zones: [], keepAliveMs: 0 };

  it('passes the first frame and moving objects, not sensor noise', () => {
    const g = new MotionGate(options);
    expect(g.check(frame(0, { x: 10, y: 50 })).reason).toBe('first');
    expect(g.check(frame(100, { x: 10, y: 50 })).pass).toBe(false);
    expect(g.check(frame(200, { x: 40, y: 50 }))).toMatchObject({ pass: true, reason: 'motion' });
    expect(g.check(frame(300, { x: 40, y: 50 })).pass).toBe(false);
  });

  it('ignores motion outside its zones', () => {
    const g = new MotionGate({ ...options, zones: [[[160, 0], [320, 0], [320, 180], [160, 180]]] });
    g.check(frame(0, { x: 10, y: 50 }));
    expect(g.check(frame(100, { x: 40, y: 50 })).pass).toBe(false); // left half
    expect(g.check(frame(200, { x: 200, y: 50 })).pass).toBe(true); // right half
  });

  it('lets a keep-alive frame through a still scene every keepAliveMs', () => {
    const g = new MotionGate({ ...options, keepAliveMs: 1000 });
    const passed = Array.from({ length: 31 }, (_, i) => g.check(frame(i * 100, undefined)).reason).filter((r) => r !== 'still');
    expect(passed).toEqual(['first', 'keepalive', 'keepalive', 'keepalive']);
  });
});
