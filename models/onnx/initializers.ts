import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;

/** A float32 weight of a model: its initializer's name, dims and values. */
export interface FloatInitializer {
  readonly name: string;
  readonly dims: readonly number[];
  readonly data: Float32Array;
}

export class InitializerError extends Error {
  readonly code = 'E_MODEL_INVALID';
}

const FLOAT = onnx.TensorProto.DataType.FLOAT;

function floatValues(t: onnxProto.onnx.ITensorProto, name: string): Float32Array {
  const count = (t.dims ?? []).reduce<number>((n, d) => n * Number(d), 1);
  const raw = t.rawData;
  if (raw !== null && raw !== undefined && raw.byteLength > 0) {
    if (raw.byteLength !== count * 4) throw new InitializerError(`initializer ${name}: ${raw.byteLength} raw bytes for ${count} float32 values`);
    // Copied: the protobuf's buffer may be unaligned and is shared with the rest of the file.
    const out = new Float32Array(count);
    new Uint8Array(out.buffer).set(raw);
    return out;
  }
  const values = t.floatData ?? [];
  if (values.length !== count) throw new InitializerError(`initializer ${name}: ${values.length} values for dims [${(t.dims ?? []).join(', ')}]`);
  return Float32Array.from(values);
}

/**
 * The float32 initializers of an ONNX model, in the file's order: a model's trainable parameters
 * as the federated round exchanges them (the fleet never needs to know the architecture: it adds
 * the round's delta to these and writes them back with `withInitializers`). Other element types
 * (int64 shape constants) are not parameters and are left out. Throws E_MODEL_INVALID when the
 * bytes are not a model or a weight's data does not fit its dims.
 */
export function readFloatInitializers(bytes: Uint8Array): FloatInitializer[] {
  let model: onnxProto.onnx.ModelProto;
  try {
    model = onnx.ModelProto.decode(bytes);
  } catch (err) {
    throw new InitializerError(`not an ONNX model: ${(err as Error).message}`);
  }
  if (model.graph === null || model.graph === undefined) throw new InitializerError('not an ONNX model: it has no graph');
  return (model.graph.initializer ?? [])
    .filter((t) => (t.dataType ?? 0) === FLOAT)
    .map((t, i) => {
      const name = t.name ?? `#${i}`;
      return { name, dims: (t.dims ?? []).map(Number), data: floatValues(t, name) };
    });
}

/**
 * The same model with new values for its float32 initializers (the same names, dims and order as
 * `readFloatInitializers` gives) and, optionally, metadata entries set or replaced. The graph is
 * untouched, so the result runs wherever the input ran.
 */
export function withInitializers(bytes: Uint8Array, values: readonly FloatInitializer[], metadata: Readonly<Record<string, string>> = {}): Uint8Array {
  const model = onnx.ModelProto.decode(bytes);
  const graph = model.graph;
  if (graph === null || graph === undefined) throw new InitializerError('not an ONNX model: it has no graph');
  const floats = (graph.initializer ?? []).filter((t) => (t.dataType ?? 0) === FLOAT);
  if (floats.length !== values.length) throw new InitializerError(`model has ${floats.length} float initializers, got ${values.length} tensors`);
  floats.forEach((t, i) => {
    const v = values[i] as FloatInitializer;
    const dims = (t.dims ?? []).map(Number);
    if (t.name !== v.name || dims.length !== v.dims.length || dims.some((d, k) => d !== v.dims[k])) {
      throw new InitializerError(`tensor ${i}: ${v.name} [${v.dims.join(', ')}] does not fit the model's ${t.name ?? ''} [${dims.join(', ')}]`);
    }
    t.floatData = [];
    t.rawData = new Uint8Array(v.data.buffer.slice(v.data.byteOffset, v.data.byteOffset + v.data.byteLength));
  });
  const props = new Map((model.metadataProps ?? []).map((p) => [p.key ?? '', p.value ?? '']));
  for (const [k, v] of Object.entries(metadata)) props.set(k, v);
  model.metadataProps = [...props].map(([key, value]) => onnx.StringStringEntryProto.create({ key, value }));
  return onnx.ModelProto.encode(model).finish();
}
