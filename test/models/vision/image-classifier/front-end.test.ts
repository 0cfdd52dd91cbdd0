import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OnnxBackend } from '../../../../models/engine/backends/onnxruntime/onnx-backend.js';
import type { LoadedModel } from '../../../../models/engine/engine.js';
import { Mlp } from '../../../../models/train/mlp.js';
import { exportFrontEnd, exportImageClassifier, featureCount } from '../../../../models/vision/image-classifier/index.js';

/** The fixed front end through ONNX Runtime, on images fast-check makes. */
const SIZE = 32;
const o = { size: SIZE, grid: 4 };
const F = featureCount(o);
const backend = new OnnxBackend({ threads: 1 });
const image = fc.float32Array({ min: 0, max: 1, noNaN: true, minLength: 3 * SIZE * SIZE, maxLength: 3 * SIZE * SIZE });

describe('image classifier front end (fixed features, ONNX)', () => {
  let front: LoadedModel;
  beforeAll(async () => {
    front = await backend.load(exportFrontEnd(o));
  });
  afterAll(async () => {
    await front.close();
  });

  const features = async (x: Float32Array): Promise<Float32Array> => {
    const out = (await front.run({ image: { data: x, dims: [1, 3, SIZE, SIZE] } }))['features'];
    expect(out?.dims).toEqual([1, F]);
    return out?.data ?? new Float32Array();
  };

  it('gives finite features on any image, a flat one included', async () => {
    expect((await features(new Float32Array(3 * SIZE * SIZE).fill(0.4))).every(Number.isFinite)).toBe(true);
    await fc.assert(
      fc.asyncProperty(image, async (x) => {
        expect((await features(x)).every(Number.isFinite)).toBe(true);
      }),
      { numRuns: 30 },
    );
  });

  it('gives the same features under a dimmer or brighter lamp (gain and offset, unclipped)', async () => {
    await fc.assert(
      fc.asyncProperty(image, fc.double({ min: 0.3, max: 1, noNaN: true }), fc.double({ min: 0, max: 0.2, noNaN: true }), async (x, gain, offset) => {
        // Contrast of at least a few grey levels, as any photo of a part has.
        const spread = Math.max(...x) - Math.min(...x);
        fc.pre(spread > 0.1);
        const a = await features(x);
        const b = await features(x.map((v) => v * gain + offset));
        const scale = Math.max(...a.map(Math.abs));
        for (let i = 0; i < F; i += 1) expect(Math.abs((a[i] as number) - (b[i] as number))).toBeLessThan(0.02 * scale + 1e-3);
      }),
      { numRuns: 20 },
    );
  });

  it('exported with a head, answers [1, C] probabilities that sum to 1 (the vision stage reads them as they are)', async () => {
    const head = new Mlp([F, 8, 3], 1);
    const scaling = { mean: new Float64Array(F).fill(0.1), std: new Float64Array(F).fill(2) };
    const m = await backend.load(exportImageClassifier(o, head, scaling, 3, { classNames: 'a,b,c' }));
    try {
      expect(m.outputs.map((s) => s.name)).toEqual(['probabilities']);
      await fc.assert(
        fc.asyncProperty(image, async (x) => {
          const p = (await m.run({ image: { data: x, dims: [1, 3, SIZE, SIZE] } }))['probabilities'];
          expect(p?.dims).toEqual([1, 3]);
          const data = Array.from(p?.data ?? []);
          expect(data.every((v) => v >= 0 && v <= 1)).toBe(true);
          expect(data.reduce((s, v) => s + v, 0)).toBeCloseTo(1, 5);
          // The folded standardisation is the head on standardised features.
          const f = await features(x);
          const want = head.predict(Float64Array.from(f, (v, i) => (v - (scaling.mean[i] as number)) / (scaling.std[i] as number)), 1);
          const e = Array.from(want, (v) => Math.exp(v - Math.max(...want)));
          e.forEach((v, k) => expect(data[k]).toBeCloseTo(v / e.reduce((s, u) => s + u, 0), 4));
        }),
        { numRuns: 10 },
      );
    } finally {
      await m.close();
    }
  });
});
