import { describe, expect, it } from 'vitest';
import {
  ErrorFeedback,
  bitmapIndexBytes,
  dequantizeUpdate,
  encodeUpdate,
  quantizeUpdate,
  seededRandom,
  splitUpdate,
  varintIndexBytes,
  type FloatTensor,
  type QuantizedTensor,
} from '../../../../fleet/protocol/federated/index.js';
import { trainAutoencoder, trainMlp } from '../../../../models/train/adam.js';
import { Mlp, meanSquaredError } from '../../../../models/train/mlp.js';

/**
 * Bytes on the wire per client per round for the anomaly autoencoder's update (3 channels x 32
 * samples in, hidden [32, 8, 32], as models/anomaly configures it), against FedAvg's raw
 * float32 (4 bytes per parameter). The delta is a real one: a global model trained on one
 * gateway's windows, then two local epochs on another's. Prints one JSON line; README.md
 * quotes it.
 */
const CHANNELS = 3;
const WINDOW = 32;
const DIMS = CHANNELS * WINDOW;
const HIDDEN = [32, 8, 32];

function windows(seed: number, rows: number): Float64Array {
  const r = seededRandom(seed);
  const d = new Float64Array(rows * DIMS);
  for (let k = 0; k < rows; k += 1) {
    const phase = r() * 2 * Math.PI;
    const f = 0.2 + 0.05 * r();
    for (let t = 0; t < WINDOW; t += 1) for (let c = 0; c < CHANNELS; c += 1) d[k * DIMS + t * CHANNELS + c] = Math.sin(phase + f * t * (c + 1)) + 0.1 * (r() - 0.5);
  }
  return d;
}

async function autoencoderDelta(): Promise<FloatTensor[]> {
  const global = (await trainAutoencoder(windows(1, 400), 400, DIMS, { hidden: HIDDEN, epochs: 5, batchSize: 32, learningRate: 0.003, seed: 1 })).model;
  const local = new Mlp([DIMS, ...HIDDEN, DIMS], 1);
  local.layers.forEach((l, i) => {
    l.w.set(global.layers[i]!.w);
    l.b.set(global.layers[i]!.b);
  });
  const data = windows(7, 300);
  await trainMlp(local, 300, { epochs: 2, batchSize: 32, learningRate: 0.003, seed: 3 }, (indices) => {
    const x = new Float64Array(indices.length * DIMS);
    indices.forEach((row, r) => x.set(data.subarray(row * DIMS, (row + 1) * DIMS), r * DIMS));
    return { x, loss: (out) => meanSquaredError(out, x) };
  });
  return local.layers.flatMap((l, i) => {
    const g = global.layers[i]!;
    return [
      { name: `layers.${i}.w`, shape: [l.outputs, l.inputs], values: Float32Array.from(l.w, (x, j) => x - g.w[j]!) },
      { name: `layers.${i}.b`, shape: [l.outputs], values: Float32Array.from(l.b, (x, j) => x - g.b[j]!) },
    ];
  });
}

function relativeError(delta: readonly FloatTensor[], sent: readonly QuantizedTensor[]): number {
  const back = dequantizeUpdate(sent);
  let err = 0;
  let norm = 0;
  delta.forEach((t, i) =>
    t.values.forEach((x, j) => {
      err += (x - back[i]!.values[j]!) ** 2;
      norm += x * x;
    }),
  );
  return Math.sqrt(err / norm);
}

const meta = { round: 12, task: 'anomaly-motor', client: 'gw-0042', samples: 300, validationLoss: 0.0123 };

describe('update size for the anomaly autoencoder', () => {
  it('is at least 4x smaller than float32 FedAvg with top-k, and just under 4x dense int8', async () => {
    const delta = await autoencoderDelta();
    const parameters = delta.reduce((n, t) => n + t.values.length, 0);
    const float32Bytes = parameters * 4;
    const wireBytes = (m: Uint8Array): number => splitUpdate(m, { updateId: 'anomaly-motor.12' }).reduce((n, c) => n + c.length, 0);

    const dense = quantizeUpdate(delta, seededRandom(5));
    const denseBytes = encodeUpdate({ ...meta, tensors: dense });
    const rows = [{ density: 1, messageBytes: denseBytes.length, chunkedBytes: wireBytes(denseBytes), ratio: float32Bytes / denseBytes.length, relativeL2Error: relativeError(delta, dense), varintIndexBytes: 0, bitmapIndexBytes: 0 }];
    for (const density of [0.5, 0.25, 0.125, 0.1, 0.05, 0.01]) {
      const sent = new ErrorFeedback(delta).compress(delta, seededRandom(5), { density });
      const bytes = encodeUpdate({ ...meta, tensors: sent });
      rows.push({
        density,
        messageBytes: bytes.length,
        chunkedBytes: wireBytes(bytes),
        ratio: float32Bytes / bytes.length,
        relativeL2Error: relativeError(delta, sent),
        varintIndexBytes: sent.reduce((n, t) => n + (t.indices === undefined ? 0 : varintIndexBytes(t.indices)), 0),
        bitmapIndexBytes: sent.reduce((n, t) => n + (t.indices === undefined ? 0 : bitmapIndexBytes(t.shape.reduce((a, b) => a * b, 1))), 0),
      });
    }
    console.log(JSON.stringify({ measure: 'federated-update-bytes', parameters, tensors: delta.length, float32Bytes, rows: rows.map((r) => ({ ...r, ratio: Number(r.ratio.toFixed(2)), relativeL2Error: Number(r.relativeL2Error.toFixed(4)) })) }));

    expect(parameters).toBe(96 * 32 + 32 + 32 * 8 + 8 + 8 * 32 + 32 + 32 * 96 + 96);
    const at = (d: number): (typeof rows)[number] => rows.find((r) => r.density === d)!;
    // int8 is a quarter of float32; the envelope (ids, names, shapes, scales) keeps dense just below 4
    expect(at(1).ratio).toBeGreaterThan(3.7);
    expect(at(1).ratio).toBeLessThan(4);
    // stochastic int8 loses little: under 1% of the update's norm (a scale is max-abs / 127)
    expect(at(1).relativeL2Error).toBeLessThan(0.01);
    for (const d of [0.5, 0.25, 0.1, 0.05, 0.01]) expect(at(d).ratio, `density ${d}`).toBeGreaterThanOrEqual(4);
    // Index coding: the bitmap wins at high density, varints at low, the crossover near 1/8
    expect(at(0.25).varintIndexBytes).toBeGreaterThan(at(0.25).bitmapIndexBytes);
    expect(at(0.05).varintIndexBytes).toBeLessThan(at(0.05).bitmapIndexBytes);
    // One 64 KiB chunk carries the whole update
    rows.forEach((r) => expect(r.chunkedBytes - r.messageBytes).toBeLessThan(200));
  });
});
