import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Conv2d, convOutputSize, type Activations, type ConvSpec } from '../../../../models/train/conv/conv2d.js';
import { gemmAccumulate, gemmAccumulateBt } from '../../../../models/train/conv/gemm.js';
import { seededRandom } from '../../../../models/train/random.js';

/** The convolution by its definition (ONNX Conv), one output value at a time. */
function referenceConv(x: Activations, s: ConvSpec, w: Float32Array, bias: Float32Array): Float64Array {
  const oh = convOutputSize(x.height, s);
  const ow = convOutputSize(x.width, s);
  const out = new Float64Array(s.outChannels * x.batch * oh * ow);
  for (let o = 0; o < s.outChannels; o += 1)
    for (let b = 0; b < x.batch; b += 1)
      for (let oy = 0; oy < oh; oy += 1)
        for (let ox = 0; ox < ow; ox += 1) {
          let sum = bias[o] as number;
          for (let c = 0; c < s.inChannels; c += 1)
            for (let ky = 0; ky < s.kernel; ky += 1)
              for (let kx = 0; kx < s.kernel; kx += 1) {
                const iy = oy * s.stride + ky * s.dilation - s.pad;
                const ix = ox * s.stride + kx * s.dilation - s.pad;
                if (iy < 0 || iy >= x.height || ix < 0 || ix >= x.width) continue;
                sum += (w[((o * s.inChannels + c) * s.kernel + ky) * s.kernel + kx] as number) * (x.data[((c * x.batch + b) * x.height + iy) * x.width + ix] as number);
              }
          out[((o * x.batch + b) * oh + oy) * ow + ox] = sum;
        }
  return out;
}

const specs = fc.record({
  inChannels: fc.integer({ min: 1, max: 5 }),
  outChannels: fc.integer({ min: 1, max: 9 }),
  kernel: fc.constantFrom(1, 3),
  stride: fc.constantFrom(1, 2),
  dilation: fc.constantFrom(1, 2),
  pad: fc.integer({ min: 0, max: 2 }),
  batch: fc.integer({ min: 1, max: 3 }),
  height: fc.integer({ min: 5, max: 12 }),
  width: fc.integer({ min: 5, max: 12 }),
  seed: fc.integer({ min: 0, max: 1e6 }),
});

function setup(p: ConvSpec & { batch: number; height: number; width: number; seed: number }): { conv: Conv2d; x: Activations; random: () => number } {
  const random = seededRandom(p.seed);
  const conv = new Conv2d(p);
  conv.initialise(random);
  conv.bias.forEach((_, i) => (conv.bias[i] = random() - 0.5));
  const data = Float32Array.from({ length: p.inChannels * p.batch * p.height * p.width }, () => random() * 2 - 1);
  return { conv, x: { data, channels: p.inChannels, batch: p.batch, height: p.height, width: p.width }, random };
}

describe('gemm', () => {
  it('multiplies as the textbook triple loop does, for any shape (blocked and remainder rows)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 9 }), fc.integer({ min: 1, max: 7 }), fc.integer({ min: 1, max: 6 }), fc.integer(), (M, N, K, seed) => {
        const r = seededRandom(seed);
        const A = Float32Array.from({ length: M * K }, r);
        const B = Float32Array.from({ length: K * N }, r);
        const C = new Float32Array(M * N);
        gemmAccumulate(M, N, K, A, B, C);
        const Bt = Float32Array.from({ length: N * K }, r);
        const D = new Float32Array(M * K);
        const An = Float32Array.from({ length: M * N }, r);
        gemmAccumulateBt(M, K, N, An, Bt, D);
        for (let i = 0; i < M; i += 1) {
          for (let j = 0; j < N; j += 1) {
            let s = 0;
            for (let k = 0; k < K; k += 1) s += (A[i * K + k] as number) * (B[k * N + j] as number);
            expect(C[i * N + j]).toBeCloseTo(s, 4);
          }
          for (let k = 0; k < K; k += 1) {
            let s = 0;
            for (let j = 0; j < N; j += 1) s += (An[i * N + j] as number) * (Bt[k * N + j] as number);
            expect(D[i * K + k]).toBeCloseTo(s, 4);
          }
        }
      }),
    );
  });
});

describe('Conv2d', () => {
  it('computes what ONNX Conv defines, for any kernel, stride, dilation, padding and batch', () => {
    fc.assert(
      fc.property(specs, (p) => {
        fc.pre(convOutputSize(p.height, p) >= 1 && convOutputSize(p.width, p) >= 1);
        const { conv, x } = setup(p);
        const y = conv.forward(x);
        const ref = referenceConv(x, p, conv.weight, conv.bias);
        expect(y.data.length).toBe(ref.length);
        ref.forEach((v, i) => expect(y.data[i]).toBeCloseTo(v, 4));
      }),
      { numRuns: 60 },
    );
  });

  it('has weight, bias and input gradients equal to finite differences of the loss', () => {
    fc.assert(
      fc.property(specs, (p) => {
        fc.pre(convOutputSize(p.height, p) >= 1 && convOutputSize(p.width, p) >= 1);
        const { conv, x, random } = setup(p);
        // loss = sum(g * y) for a fixed random g: its gradient with respect to y is g.
        const y0 = conv.forward(x);
        const g = Float32Array.from({ length: y0.data.length }, () => random() - 0.5);
        const loss = (): number => referenceConv(x, p, conv.weight, conv.bias).reduce((a, v, i) => a + v * (g[i] as number), 0);
        conv.zeroGrad();
        conv.forward(x);
        const dx = Float32Array.from(conv.backward(g, true) as Float32Array);
        const h = 1e-2;
        const probe = (arr: Float32Array, i: number): number => {
          const keep = arr[i] as number;
          arr[i] = keep + h;
          const up = loss();
          arr[i] = keep - h;
          const down = loss();
          arr[i] = keep;
          return (up - down) / (2 * h);
        };
        for (let t = 0; t < 4; t += 1) {
          const wi = Math.floor(random() * conv.weight.length);
          expect(conv.gradWeight[wi]).toBeCloseTo(probe(conv.weight, wi), 2);
          const bi = Math.floor(random() * conv.bias.length);
          expect(conv.gradBias[bi]).toBeCloseTo(probe(conv.bias, bi), 2);
          const xi = Math.floor(random() * x.data.length);
          expect(dx[xi]).toBeCloseTo(probe(x.data, xi), 2);
        }
      }),
      { numRuns: 40 },
    );
  });
});
