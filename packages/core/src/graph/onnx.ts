import onnxProto from 'onnx-proto';
import { type ResolvedAttr, resolveAttr } from './attributes.js';
import type { Graph, Value } from './builder.js';
import { onnxDTypeCode } from './shapes.js';
import type { Tensor } from './tensor.js';

const { onnx } = onnxProto;

export interface OnnxExportOptions {
  /** Default-domain opset; 17 has LayerNormalization with its Mean/InvStdDev outputs. */
  opset?: number;
  /**
   * 'inputs' (default): trainable params are graph inputs, fed each run (one exported backbone
   * serves every task). 'initializers': their current values are baked in (a merged export).
   */
  trainable?: 'inputs' | 'initializers';
  /** Values for trainable params when baked in; defaults to each param's own value. */
  trainableValues?: ReadonlyMap<string, Tensor>;
  docString?: string;
  metadata?: Record<string, string>;
}

function tensorProto(name: string, t: Tensor): onnxProto.onnx.ITensorProto {
  const bytes = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
  return { name, dataType: onnxDTypeCode(t.dtype), dims: [...t.dims], rawData: bytes };
}

function valueInfo(v: Value): onnxProto.onnx.IValueInfoProto {
  return {
    name: v.name,
    type: {
      tensorType: {
        elemType: onnxDTypeCode(v.dtype),
        shape: {
          dim: v.shape.map((d) => (typeof d === 'number' && d >= 0 ? { dimValue: d } : { dimParam: String(d) })),
        },
      },
    },
  };
}

function attributeProto(name: string, a: ResolvedAttr): onnxProto.onnx.IAttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  switch (a.type) {
    case 'int':
      return { name, type: T.INT, i: a.value };
    case 'float':
      return { name, type: T.FLOAT, f: a.value };
    case 'ints':
      return { name, type: T.INTS, ints: [...a.value] };
    case 'floats':
      return { name, type: T.FLOATS, floats: [...a.value] };
    case 'string':
      return { name, type: T.STRING, s: new TextEncoder().encode(a.value) };
    case 'tensor':
      return { name, type: T.TENSOR, t: tensorProto('', a.value) };
  }
}

/** Serialises a graph as an ONNX ModelProto (IR 8, standard ops plus any domains the nodes use). */
export function toOnnx(graph: Graph, options: OnnxExportOptions = {}): Uint8Array {
  const opset = options.opset ?? 17;
  const trainableAsInputs = (options.trainable ?? 'inputs') === 'inputs';
  const initializers: onnxProto.onnx.ITensorProto[] = [];
  const inputs: onnxProto.onnx.IValueInfoProto[] = graph.inputs.map(valueInfo);
  for (const p of graph.params.values()) {
    if (p.role === 'trainable' && trainableAsInputs) {
      inputs.push(valueInfo(graph.values.get(p.name)!));
    } else {
      const value = p.role === 'trainable' ? (options.trainableValues?.get(p.name) ?? p.value) : p.value;
      initializers.push(tensorProto(p.name, value));
    }
  }
  for (const [name, value] of graph.constants) initializers.push(tensorProto(name, value));
  const domains = new Set(graph.nodes.map((n) => n.domain).filter((d) => d !== ''));
  const model: onnxProto.onnx.IModelProto = {
    irVersion: 8,
    producerName: 'anymc3d',
    producerVersion: '0.1.0',
    docString: options.docString ?? '',
    opsetImport: [{ domain: '', version: opset }, ...[...domains].map((domain) => ({ domain, version: 1 }))],
    metadataProps: Object.entries(options.metadata ?? {}).map(([key, value]) => ({ key, value })),
    graph: {
      name: graph.name,
      node: graph.nodes.map((n) => ({
        name: n.name,
        opType: n.op,
        domain: n.domain,
        input: [...n.inputs],
        output: [...n.outputs],
        attribute: Object.entries(n.attrs).map(([k, v]) => attributeProto(k, resolveAttr(k, v))),
      })),
      input: inputs,
      output: graph.outputs.map(valueInfo),
      initializer: initializers,
    },
  };
  return onnx.ModelProto.encode(onnx.ModelProto.create(model)).finish();
}
