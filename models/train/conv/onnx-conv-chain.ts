import type { InferenceBackend, LoadedModel, Tensor } from '../../engine/engine.js';
import { backwardGraph, chainSizes, forwardGraph, type ChainShape } from './conv-chain-graphs.js';
import type { Conv2d } from './conv2d.js';

/**
 * A chain of Conv2d layers trained with ONNX Runtime doing the arithmetic (conv-chain-graphs.ts):
 * `forward` gives the head for a batch (NCHW), `backward` adds the gradients of the layers'
 * weights and biases for the loss gradient of that head. The layers' own Float32Arrays hold
 * the weights and gradients, so the optimizer, checkpoints and export see one set of numbers.
 */
export class OnnxConvChain {
  private activations: Record<string, Tensor> = {};
  private input: Tensor | undefined;

  private constructor(
    private readonly layers: readonly Conv2d[],
    private readonly shape: ChainShape,
    private readonly forwardModel: LoadedModel,
    private readonly backwardModel: LoadedModel,
  ) {}

  /** Builds and loads both graphs for inputs of height x width (any batch size). */
  static async load(layers: readonly Conv2d[], height: number, width: number, backend: InferenceBackend, threads?: number): Promise<OnnxConvChain> {
    const shape: ChainShape = { layers: layers.map((l) => l.spec), height, width };
    const options = { providers: ['cpu'], ...(threads === undefined ? {} : { threads }) };
    const forward = await backend.load(forwardGraph(shape), options);
    try {
      const backward = await backend.load(backwardGraph(shape), options);
      return new OnnxConvChain(layers, shape, forward, backward);
    } catch (err) {
      await forward.close();
      throw err;
    }
  }

  /** The head's size (cells). */
  get headSize(): { height: number; width: number } {
    return chainSizes(this.shape)[this.layers.length] as { height: number; width: number };
  }

  private weights(withBias: boolean, from: number): Record<string, Tensor> {
    const feeds: Record<string, Tensor> = {};
    this.layers.forEach((l, i) => {
      if (i < from) return;
      const s = l.spec;
      feeds[`w${i}`] = { data: l.weight, dims: [s.outChannels, s.inChannels, s.kernel, s.kernel] };
      if (withBias) feeds[`b${i}`] = { data: l.bias, dims: [s.outChannels] };
    });
    return feeds;
  }

  /** x: [batch, C, H, W]. Returns the head [batch, outChannels, gridH, gridW]. */
  async forward(x: Float32Array, batch: number): Promise<Tensor> {
    const first = this.layers[0] as Conv2d;
    this.input = { data: x, dims: [batch, first.spec.inChannels, this.shape.height, this.shape.width] };
    const out = await this.forwardModel.run({ x: this.input, ...this.weights(true, 0) });
    const head = out['head'];
    if (head === undefined) throw new Error('conv chain: the forward graph gave no head');
    this.activations = {};
    for (let i = 0; i < this.layers.length - 1; i += 1) this.activations[`a${i}`] = out[`a${i}`] as Tensor;
    return head;
  }

  /** Adds to each layer's gradWeight and gradBias the gradients for `dHead` (the loss gradient of the last forward's head). */
  async backward(dHead: Float32Array): Promise<void> {
    if (this.input === undefined) throw new Error('conv chain: backward before forward');
    const grid = this.headSize;
    const last = this.layers[this.layers.length - 1] as Conv2d;
    const batch = this.input.dims[0] as number;
    const out = await this.backwardModel.run({ x: this.input, ...this.activations, ...this.weights(false, 1), dHead: { data: dHead, dims: [batch, last.spec.outChannels, grid.height, grid.width] } });
    this.layers.forEach((l, i) => {
      const gw = out[`gw${i}`];
      const gb = out[`gb${i}`];
      if (gw === undefined || gb === undefined || gw.data.length !== l.gradWeight.length || gb.data.length !== l.gradBias.length) throw new Error(`conv chain: the backward graph gave no gradient of the right size for layer ${i}`);
      for (let k = 0; k < gw.data.length; k += 1) l.gradWeight[k] = (l.gradWeight[k] as number) + (gw.data[k] as number);
      for (let k = 0; k < gb.data.length; k += 1) l.gradBias[k] = (l.gradBias[k] as number) + (gb.data[k] as number);
    });
  }

  async close(): Promise<void> {
    await this.forwardModel.close();
    await this.backwardModel.close();
  }
}
