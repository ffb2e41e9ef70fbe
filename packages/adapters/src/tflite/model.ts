import { InputError } from '@anymc3d/core/util';
import { FlatBufferError, FlatTable } from './table.js';

/**
 * A TFLite model as plain data. Field indices follow `tensorflow/lite/schema/schema.fbs`
 * (Model, SubGraph, Tensor, QuantizationParameters, Operator, OperatorCode, Buffer and the
 * option tables of the ops MobileNets use).
 */

export type TfliteType = 'float32' | 'float16' | 'int32' | 'uint8' | 'int64' | 'int16' | 'int8' | 'other';

/** schema.fbs `enum TensorType`. */
const TENSOR_TYPES: Record<number, TfliteType> = {
  0: 'float32',
  1: 'float16',
  2: 'int32',
  3: 'uint8',
  4: 'int64',
  7: 'int16',
  9: 'int8',
};

/** schema.fbs `enum BuiltinOperator` (the subset named in messages and handled by converters). */
export const BUILTIN = {
  ADD: 0,
  AVERAGE_POOL_2D: 1,
  CONCATENATION: 2,
  CONV_2D: 3,
  DEPTHWISE_CONV_2D: 4,
  DEQUANTIZE: 6,
  FULLY_CONNECTED: 9,
  LOGISTIC: 14,
  MAX_POOL_2D: 17,
  MUL: 18,
  RELU: 19,
  RELU6: 21,
  RESHAPE: 22,
  SOFTMAX: 25,
  MEAN: 40,
  SQUEEZE: 43,
  QUANTIZE: 114,
} as const;

export type Activation = 'none' | 'relu' | 'relu_n1_to_1' | 'relu6' | 'tanh';
const ACTIVATIONS: Record<number, Activation> = { 0: 'none', 1: 'relu', 2: 'relu_n1_to_1', 3: 'relu6', 4: 'tanh' };

export interface Quantization {
  /** One scale per tensor, or one per slice along `axis`. */
  scale: number[];
  zeroPoint: number[];
  axis: number;
}

export interface TfliteTensor {
  index: number;
  name: string;
  shape: number[];
  type: TfliteType;
  /** Raw little-endian bytes for constant tensors (weights, biases, shapes); absent for activations. */
  data?: Uint8Array;
  quantization?: Quantization;
}

/** Options of the ops converters understand; others keep only `kind`. */
export type OpOptions =
  | {
      kind: 'conv';
      padding: 'same' | 'valid';
      stride: [number, number];
      dilation: [number, number];
      activation: Activation;
      depthMultiplier: number;
    }
  | {
      kind: 'pool';
      padding: 'same' | 'valid';
      stride: [number, number];
      filter: [number, number];
      activation: Activation;
    }
  | { kind: 'activation'; activation: Activation }
  | { kind: 'reshape'; newShape: number[] }
  | { kind: 'softmax'; beta: number }
  | { kind: 'none' };

export interface TfliteOperator {
  /** BuiltinOperator code. */
  code: number;
  /** Printable op name for messages. */
  opName: string;
  /** Tensor indices; -1 marks an omitted optional input. */
  inputs: number[];
  outputs: number[];
  options: OpOptions;
}

export interface TfliteModel {
  version: number;
  description: string;
  tensors: TfliteTensor[];
  inputs: number[];
  outputs: number[];
  operators: TfliteOperator[];
}

const OP_NAMES = Object.fromEntries(Object.entries(BUILTIN).map(([k, v]) => [v, k])) as Record<number, string>;

/** Parses a `.tflite` flatbuffer (first subgraph). `source` names the file in errors. */
export function readTflite(bytes: Uint8Array, source: string): TfliteModel {
  if (bytes.length < 8) throw new InputError(source, `not a TFLite model: only ${bytes.length} bytes`);
  const ident = new TextDecoder().decode(bytes.subarray(4, 8));
  if (ident !== 'TFL3') throw new InputError(source, `not a TFLite model: file identifier "${ident}", expected "TFL3"`);
  try {
    return parse(bytes, source);
  } catch (error) {
    if (error instanceof FlatBufferError) throw new InputError(source, `damaged TFLite file: ${error.message}`);
    throw error;
  }
}

function parse(bytes: Uint8Array, source: string): TfliteModel {
  const model = FlatTable.root(bytes);
  // Model: 0 version, 1 operator_codes, 2 subgraphs, 3 description, 4 buffers.
  const codes = model.tables(1).map((c) => {
    // OperatorCode: 0 deprecated_builtin_code (byte), 3 builtin_code (int); the larger is the code.
    return Math.max(c.int8(0), c.int32(3));
  });
  const buffers = model.tables(4).map((b) => {
    if (b.has(1) && !b.has(0))
      throw new InputError(source, 'TFLite buffers stored outside the flatbuffer are not supported');
    return b.bytes(0);
  });
  const subgraphs = model.tables(2);
  if (subgraphs.length === 0) throw new InputError(source, 'TFLite model has no subgraph');
  const sg = subgraphs[0]!;
  // SubGraph: 0 tensors, 1 inputs, 2 outputs, 3 operators, 4 name.
  const tensors = sg.tables(0).map((t, index): TfliteTensor => {
    // Tensor: 0 shape, 1 type, 2 buffer, 3 name, 4 quantization.
    const data = buffers[t.uint32(2)];
    const q = t.table(4);
    const tensor: TfliteTensor = {
      index,
      name: t.string(3) ?? `tensor_${index}`,
      shape: t.int32s(0),
      type: TENSOR_TYPES[t.int8(1)] ?? 'other',
      ...(data && data.length > 0 ? { data } : {}),
    };
    if (q) {
      // QuantizationParameters: 0 min, 1 max, 2 scale, 3 zero_point, 6 quantized_dimension.
      const scale = q.float32s(2);
      if (scale.length > 0) tensor.quantization = { scale, zeroPoint: q.int64s(3), axis: q.int32(6) };
    }
    return tensor;
  });
  const operators = sg.tables(3).map((op): TfliteOperator => {
    // Operator: 0 opcode_index, 1 inputs, 2 outputs, 3 builtin_options_type, 4 builtin_options.
    const code = codes[op.uint32(0)];
    if (code === undefined) throw new InputError(source, `operator refers to missing operator code ${op.uint32(0)}`);
    const inputs = op.int32s(1);
    const outputs = op.int32s(2);
    for (const i of [...inputs, ...outputs]) {
      if (i >= tensors.length) throw new InputError(source, `operator refers to missing tensor ${i}`);
    }
    return { code, opName: OP_NAMES[code] ?? `builtin#${code}`, inputs, outputs, options: options(code, op.table(4)) };
  });
  return {
    version: model.uint32(0),
    description: model.string(3) ?? '',
    tensors,
    inputs: sg.int32s(1),
    outputs: sg.int32s(2),
    operators,
  };
}

const padding = (v: number): 'same' | 'valid' => (v === 1 ? 'valid' : 'same');
const activation = (v: number): Activation => ACTIVATIONS[v] ?? 'none';

function options(code: number, t: FlatTable | undefined): OpOptions {
  if (!t) return { kind: 'none' };
  switch (code) {
    case BUILTIN.CONV_2D:
      // Conv2DOptions: 0 padding, 1 stride_w, 2 stride_h, 3 activation, 4 dilation_w, 5 dilation_h.
      return {
        kind: 'conv',
        padding: padding(t.int8(0)),
        stride: [t.int32(2, 1), t.int32(1, 1)],
        dilation: [t.int32(5, 1), t.int32(4, 1)],
        activation: activation(t.int8(3)),
        depthMultiplier: 1,
      };
    case BUILTIN.DEPTHWISE_CONV_2D:
      // DepthwiseConv2DOptions: 0 padding, 1 stride_w, 2 stride_h, 3 depth_multiplier,
      // 4 activation, 5 dilation_w, 6 dilation_h.
      return {
        kind: 'conv',
        padding: padding(t.int8(0)),
        stride: [t.int32(2, 1), t.int32(1, 1)],
        dilation: [t.int32(6, 1), t.int32(5, 1)],
        activation: activation(t.int8(4)),
        depthMultiplier: t.int32(3, 1),
      };
    case BUILTIN.AVERAGE_POOL_2D:
    case BUILTIN.MAX_POOL_2D:
      // Pool2DOptions: 0 padding, 1 stride_w, 2 stride_h, 3 filter_width, 4 filter_height, 5 activation.
      return {
        kind: 'pool',
        padding: padding(t.int8(0)),
        stride: [t.int32(2, 1), t.int32(1, 1)],
        filter: [t.int32(4, 1), t.int32(3, 1)],
        activation: activation(t.int8(5)),
      };
    case BUILTIN.ADD:
    case BUILTIN.MUL:
      // AddOptions / MulOptions: 0 fused_activation_function.
      return { kind: 'activation', activation: activation(t.int8(0)) };
    case BUILTIN.RESHAPE:
      // ReshapeOptions: 0 new_shape.
      return { kind: 'reshape', newShape: t.int32s(0) };
    case BUILTIN.SOFTMAX:
      // SoftmaxOptions: 0 beta.
      return { kind: 'softmax', beta: t.float32(0, 1) };
    default:
      return { kind: 'none' };
  }
}
