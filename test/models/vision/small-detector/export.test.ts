import { describe, expect, it } from 'vitest';
import { OnnxBackend } from '../../../../models/engine/backends/onnxruntime/onnx-backend.js';
import { readModelInfo } from '../../../../models/onnx/model-info.js';
import { seededRandom } from '../../../../models/train/random.js';
import { modelClassNames } from '../../../../models/vision/class-names.js';
import { INPUT_MEAN, INPUT_STD, SmallDetectorNet, STRIDE } from '../../../../models/vision/small-detector/architecture.js';
import { decodeHead, exportSmallDetector } from '../../../../models/vision/small-detector/export.js';
import { classNameMetadata } from '../../../../models/vision/small-detector/train.js';

describe('small detector export', () => {
  it('computes in ONNX Runtime what the TypeScript network computes, decoded to YOLOv8 [1, 4 + C, cells] in input pixels with peak scores', async () => {
    const size = 96;
    const grid = size / STRIDE;
    const net = new SmallDetectorNet(3);
    const random = seededRandom(4);
    net.initialise(random);
    // Trained-looking class logits: some cells well above the prior, so peaks are not all ties.
    net.layers.forEach((l) => l.bias.forEach((_, i) => (l.bias[i] = random() * 0.4 - 0.2)));
    // The model takes 0..1 pixels and normalises them itself; the TypeScript net takes them normalised.
    const image = Float32Array.from({ length: 3 * size * size }, () => random());
    const normalised = image.map((v, i) => (v - (INPUT_MEAN[Math.floor(i / (size * size))] as number)) / (INPUT_STD[Math.floor(i / (size * size))] as number));
    const head = net.forward({ data: normalised, channels: 3, batch: 1, height: size, width: size });
    const expected = decodeHead(head.data, 3, grid);
    const bytes = exportSmallDetector(net, size, classNameMetadata(['scratch', 'spot', 'missing-pad']));
    const model = await new OnnxBackend().load(bytes, { providers: ['cpu'] });
    try {
      expect(model.outputs[0]).toMatchObject({ name: 'output0', shape: [1, 7, grid * grid] });
      const out = (await model.run({ images: { data: image, dims: [1, 3, size, size] } }))['output0'];
      expect(out?.dims).toEqual([1, 7, grid * grid]);
      let peaks = 0;
      expected.forEach((v, i) => {
        expect(out?.data[i], `value ${i}`).toBeCloseTo(v, 3);
        if (i >= 4 * grid * grid && v > 0) peaks += 1;
      });
      expect(peaks).toBeGreaterThan(0);
      expect(peaks).toBeLessThan(3 * grid * grid);
    } finally {
      await model.close();
    }
  });

  it('carries the class names where the vision stage reads them, commas in names included', () => {
    const net = new SmallDetectorNet(2);
    for (const names of [['scratch', 'dent'], ['solder, cold', 'ok']]) {
      const meta = readModelInfo(exportSmallDetector(net, 64, classNameMetadata(names))).metadata;
      expect(modelClassNames(meta)).toMatchObject({ names });
    }
  });
});
