import fc from 'fast-check';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { exportAutoencoder } from '../../../models/anomaly/autoencoder/onnx-export.js';
import { readModelMetadata } from '../../../models/onnx/builder.js';
import { readFloatInitializers, withInitializers } from '../../../models/onnx/initializers.js';
import { Mlp } from '../../../models/train/mlp.js';

const net = new Mlp([6, 4, 2, 4, 6], 7);
const bytes = exportAutoencoder(net, { kind: 'edgewise-autoencoder', note: 'first' });

describe('float initializers of an ONNX model', () => {
  it('reads the trained weights back exactly, in layer order', () => {
    const tensors = readFloatInitializers(bytes);
    expect(tensors.map((t) => t.name)).toEqual(['w0', 'b0', 'w1', 'b1', 'w2', 'b2', 'w3', 'b3']);
    expect(tensors[0]?.dims).toEqual([4, 6]);
    expect(Array.from(tensors[0]?.data ?? [])).toEqual(Array.from(Float32Array.from(net.layers[0]?.w ?? [])));
  });

  it('writes new values and metadata that ONNX Runtime then computes with', async () => {
    // All weights zero except the last bias: the reconstruction is that bias whatever the input.
    const zeroed = readFloatInitializers(bytes).map((t) => ({ ...t, data: new Float32Array(t.data.length) }));
    const lastBias = zeroed[zeroed.length - 1];
    lastBias?.data.set([1, 2, 3, 4, 5, 6]);
    const rewritten = withInitializers(bytes, zeroed, { note: 'second', round: '3' });
    expect(readModelMetadata(rewritten)).toMatchObject({ kind: 'edgewise-autoencoder', note: 'second', round: '3' });
    const session = await ort.InferenceSession.create(rewritten);
    const out = await session.run({ x: new ort.Tensor('float32', new Float32Array(12).fill(0.5), [2, 6]) });
    expect(Array.from(out['reconstruction']?.data as Float32Array)).toEqual([1, 2, 3, 4, 5, 6, 1, 2, 3, 4, 5, 6]);
    await session.release();
  });

  it('round-trips any float32 values bit for bit', () => {
    fc.assert(
      fc.property(fc.array(fc.float({ noNaN: true }), { minLength: 24, maxLength: 24 }), (values) => {
        const tensors = readFloatInitializers(bytes);
        const first = tensors[0];
        if (first === undefined) throw new Error('no tensors');
        const changed = [{ ...first, data: Float32Array.from(values) }, ...tensors.slice(1)];
        const back = readFloatInitializers(withInitializers(bytes, changed));
        expect(Array.from(back[0]?.data ?? [])).toEqual(Array.from(Float32Array.from(values)));
      }),
      { numRuns: 50 },
    );
  });

  it('refuses tensors that do not fit the model, naming them', () => {
    const tensors = readFloatInitializers(bytes);
    expect(() => withInitializers(bytes, tensors.slice(1))).toThrow(/8 float initializers, got 7/);
    const wrong = tensors.map((t, i) => (i === 2 ? { ...t, dims: [3, 3] } : t));
    expect(() => withInitializers(bytes, wrong)).toThrow(/tensor 2: w1 \[3, 3\] does not fit the model's w1 \[2, 4\]/);
    expect(() => readFloatInitializers(new Uint8Array([1, 2, 3, 4]))).toThrow(expect.objectContaining({ code: 'E_MODEL_INVALID' }));
  });
});
