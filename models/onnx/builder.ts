import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;

/**
 * Writes ONNX models from code: the models this project makes itself (the anomaly
 * autoencoder, probe models) are built here and serialised with the ONNX protobuf schema,
 * so no model file ever comes from outside the repository.
 */
export interface DenseTensor {
  readonly name: string;
  readonly dims: readonly number[];
  readonly data: Float32Array | readonly number[];
  /** float32 by default; int64 for shapes (Reshape) and indices. */
  readonly type?: 'float32' | 'int64';
}

export interface NodeSpec {
  readonly op: string;
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  /** A number is INT when integral, else FLOAT; a list is INTS (kernel_shape, strides, pads); a string is STRING (Resize's mode). */
  readonly attributes?: Readonly<Record<string, number | string | readonly number[]>>;
}

export interface GraphSpec {
  readonly name: string;
  readonly inputs: readonly { name: string; dims: readonly (number | string)[] }[];
  readonly outputs: readonly { name: string; dims: readonly (number | string)[] }[];
  readonly initializers: readonly DenseTensor[];
  readonly nodes: readonly NodeSpec[];
  /** Free-form key/value metadata stored in the model (name, version, calibration...). */
  readonly metadata?: Readonly<Record<string, string>>;
}

/** Opset 13 has everything we use (Gemm, Conv, Tanh, Sigmoid, Reshape, Add, Mul) on every runtime. */
export const OPSET = 13;

function valueInfo(name: string, dims: readonly (number | string)[]): InstanceType<typeof onnx.ValueInfoProto> {
  return onnx.ValueInfoProto.create({
    name,
    type: onnx.TypeProto.create({
      tensorType: onnx.TypeProto.Tensor.create({
        elemType: onnx.TensorProto.DataType.FLOAT,
        shape: onnx.TensorShapeProto.create({
          dim: dims.map((d) => (typeof d === 'string' ? onnx.TensorShapeProto.Dimension.create({ dimParam: d }) : onnx.TensorShapeProto.Dimension.create({ dimValue: d }))),
        }),
      }),
    }),
  });
}

export function buildModel(spec: GraphSpec): Uint8Array {
  const graph = onnx.GraphProto.create({
    name: spec.name,
    node: spec.nodes.map((n, i) =>
      onnx.NodeProto.create({
        name: `${n.op.toLowerCase()}_${i}`,
        opType: n.op,
        input: [...n.inputs],
        output: [...n.outputs],
        attribute: Object.entries(n.attributes ?? {}).map(([name, value]) =>
          typeof value === 'string'
            ? onnx.AttributeProto.create({ name, type: onnx.AttributeProto.AttributeType.STRING, s: new TextEncoder().encode(value) })
            : typeof value !== 'number'
              ? onnx.AttributeProto.create({ name, type: onnx.AttributeProto.AttributeType.INTS, ints: [...value] })
              : Number.isInteger(value)
                ? onnx.AttributeProto.create({ name, type: onnx.AttributeProto.AttributeType.INT, i: value })
                : onnx.AttributeProto.create({ name, type: onnx.AttributeProto.AttributeType.FLOAT, f: value }),
        ),
      }),
    ),
    initializer: spec.initializers.map((t) =>
      t.type === 'int64'
        ? onnx.TensorProto.create({ name: t.name, dims: [...t.dims], dataType: onnx.TensorProto.DataType.INT64, rawData: new Uint8Array(BigInt64Array.from(Array.from(t.data, (v) => BigInt(v))).buffer) })
        : onnx.TensorProto.create({
            name: t.name,
            dims: [...t.dims],
            dataType: onnx.TensorProto.DataType.FLOAT,
            // raw little-endian floats: compact, and exactly the float32 values we trained
            rawData: new Uint8Array(Float32Array.from(t.data).buffer),
          }),
    ),
    input: spec.inputs.map((i) => valueInfo(i.name, i.dims)),
    output: spec.outputs.map((o) => valueInfo(o.name, o.dims)),
  });
  const model = onnx.ModelProto.create({
    irVersion: 7,
    producerName: 'edgewise',
    opsetImport: [onnx.OperatorSetIdProto.create({ domain: '', version: OPSET })],
    metadataProps: Object.entries(spec.metadata ?? {}).map(([key, value]) => onnx.StringStringEntryProto.create({ key, value })),
    graph,
  });
  return onnx.ModelProto.encode(model).finish();
}

/** Reads the metadata a model was built with (the runtime does not expose it). */
export function readModelMetadata(bytes: Uint8Array): Record<string, string> {
  const model = onnx.ModelProto.decode(bytes);
  const out: Record<string, string> = {};
  for (const p of model.metadataProps) if (typeof p.key === 'string' && typeof p.value === 'string') out[p.key] = p.value;
  return out;
}

/** The smallest useful model: y = x, for probing execution providers. */
export function identityModel(): Uint8Array {
  return buildModel({ name: 'probe', inputs: [{ name: 'x', dims: [1, 4] }], outputs: [{ name: 'y', dims: [1, 4] }], initializers: [], nodes: [{ op: 'Identity', inputs: ['x'], outputs: ['y'] }] });
}
