import { describe, expect, it } from 'vitest';
import { OnnxBackend } from '../../../models/engine/backends/onnxruntime/onnx-backend.js';
import { CELLS, DETECTOR_INPUT, GRID, OUTPUTS, PATCH, SIZE_UNIT, STRIDE, extractPatch } from '../../../models/vision/detector/architecture.js';
import { exportDetector } from '../../../models/vision/detector/export.js';
import { Mlp } from '../../../models/train/mlp.js';
import { seededRandom } from '../../../models/train/random.js';

describe('defect detector export', () => {
  it('computes in ONNX Runtime (Conv on the whole image) what the per-cell MLP computes, in the YOLOv8 layout', async () => {
    const mlp = new Mlp([PATCH, 8, 8, OUTPUTS], 3);
    const random = seededRandom(5);
    const { width, height } = DETECTOR_INPUT;
    const image = Float32Array.from({ length: width * height }, () => random());
    const model = await new OnnxBackend().load(exportDetector(mlp, { test: '1' }), { providers: ['cpu'] });
    try {
      expect(model.outputs[0]).toMatchObject({ name: 'output0', shape: [1, OUTPUTS, CELLS] });
      const out = (await model.run({ images: { data: image, dims: [1, 1, height, width] } }))['output0'];
      expect(out?.dims).toEqual([1, OUTPUTS, CELLS]);
      const patch = new Float64Array(PATCH);
      for (const [gy, gx] of [[0, 0], [5, 7], [GRID.height - 1, GRID.width - 1], [11, 3]] as const) {
        extractPatch(image, gy, gx, patch, 0);
        const t = mlp.predict(patch, 1);
        const cell = gy * GRID.width + gx;
        const classes = Array.from({ length: OUTPUTS - 4 }, (_, c) => 1 / (1 + Math.exp(-(t[4 + c] as number))));
        const expected = [STRIDE * (gx + (t[0] as number)), STRIDE * (gy + (t[1] as number)), SIZE_UNIT * (t[2] as number), SIZE_UNIT * (t[3] as number), ...classes];
        expected.forEach((v, k) => expect(out?.data[k * CELLS + cell]).toBeCloseTo(v, 3));
      }
    } finally {
      await model.close();
    }
  });
});
