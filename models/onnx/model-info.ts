import onnxProto from 'onnx-proto';
import type { TensorSpec } from '../engine/engine.js';

const { onnx } = onnxProto;

/** What a model file says about itself, read without a runtime: its graph's inputs and outputs and its metadata. */
export interface ModelInfo {
  readonly inputs: readonly TensorSpec[];
  readonly outputs: readonly TensorSpec[];
  /** metadata_props (ONNX Runtime for Node does not expose them). */
  readonly metadata: Readonly<Record<string, string>>;
}

/** ONNX element types by their TensorProto.DataType number, named as ONNX Runtime names them. */
const ELEMENT_TYPES: Readonly<Record<number, string>> = { 1: 'float32', 2: 'uint8', 3: 'int8', 4: 'uint16', 5: 'int16', 6: 'int32', 7: 'int64', 8: 'string', 9: 'bool', 10: 'float16', 11: 'float64', 12: 'uint32', 13: 'uint64', 16: 'bfloat16' };

type ValueInfo = onnxProto.onnx.IValueInfoProto;

function spec(v: ValueInfo): TensorSpec {
  const t = v.type?.tensorType;
  // A dimension with neither a value nor a name is unknown; an output with no shape at all has rank unknown ([]).
  const shape = (t?.shape?.dim ?? []).map((d) => (d.dimValue !== undefined && d.dimValue !== null && Number(d.dimValue) > 0 ? Number(d.dimValue) : typeof d.dimParam === 'string' && d.dimParam !== '' ? d.dimParam : '?'));
  return { name: v.name ?? '', type: ELEMENT_TYPES[t?.elemType ?? 0] ?? 'unknown', shape };
}

/**
 * Reads a model's declared inputs, outputs and metadata from its bytes (the protobuf alone: no
 * session, nothing runs), for checks that must not load a runtime (`edgewise --check`) and for
 * the metadata ONNX Runtime does not give. Inputs that are initializers (older exports list
 * weights as graph inputs) are left out, as ONNX Runtime leaves them out. Throws when the bytes
 * are not an ONNX model.
 */
export function readModelInfo(bytes: Uint8Array): ModelInfo {
  const model = onnx.ModelProto.decode(bytes);
  const graph = model.graph;
  if (graph === undefined || graph === null) throw new Error('not an ONNX model: it has no graph');
  const weights = new Set((graph.initializer ?? []).map((t) => t.name));
  const metadata: Record<string, string> = {};
  for (const p of model.metadataProps ?? []) if (typeof p.key === 'string' && typeof p.value === 'string') metadata[p.key] = p.value;
  return {
    inputs: (graph.input ?? []).filter((v) => !weights.has(v.name)).map(spec),
    outputs: (graph.output ?? []).map(spec),
    metadata,
  };
}
