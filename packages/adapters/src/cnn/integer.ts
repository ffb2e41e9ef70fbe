import { type GraphBuilder, tensor, type Value } from '@anymc3d/core/graph';
import { InputError } from '@anymc3d/core/util';
import {
  type Activation,
  BUILTIN,
  integerValues,
  type TfliteModel,
  type TfliteOperator,
  type TfliteTensor,
} from '../tflite/index.js';
import { lastPoolIndex, layerName, samePads, UnsupportedModelError } from './convert.js';
import {
  activationRange,
  asCodes,
  dequantizeCodes,
  multiplyByQuantizedMultiplier,
  quantizeMultiplier,
  requantizeCodes,
  toCodes,
} from './fixed-point.js';

/**
 * A uint8 TFLite CNN run in integer arithmetic: every activation is a tensor of uint8 codes,
 * convolutions accumulate exactly in int32, and each output is requantised to the next layer's
 * codes. Two arithmetics share this walk and differ in that requantisation:
 *
 * - `onnxruntime`: ONNX Runtime's QLinearConv (MLAS's u8·s8 kernels; the uint8 weights carried
 *   as int8 by subtracting 128 from codes and zero point, the same integers) requantises with
 *   the float multiplier xs·ws/ys and rounds once, half to even. This is how an ONNX export of
 *   the file (tf2onnx) runs, faster than the float rebuild; codes may differ from TFLite's by a
 *   step where a value lies near a rounding boundary, and such differences propagate.
 * - `tflite-exact`: op for op as TFLite's uint8 reference kernels (and fixtures/tflite_ref.py),
 *   so the codes equal the file's: the fixed-point multiplier and its two roundings
 *   (fixed-point.ts), at the price of elementwise int64/float64 requantisation (~3× slower
 *   than the float rebuild). The reference the fast arithmetic is checked against.
 *
 * Layout stays NCHW as in the float rebuild.
 */

/** Which requantisation the integer network uses (see above). */
export type IntegerArithmetic = 'onnxruntime' | 'tflite-exact';

/** uint8 codes and the real value they stand for: scale·(q − zeroPoint). */
export interface QuantizedValue {
  codes: Value;
  scale: number;
  zeroPoint: number;
}

export interface IntegerNetwork {
  /** The last pool's input [N, C, h, w]. */
  features: QuantizedValue;
  /** Its global average [N, C, 1, 1]. */
  pooled: QuantizedValue;
  /** The input of a final SOFTMAX (TFLite's fixed-point softmax is not rebuilt). */
  logits?: QuantizedValue;
  /** How many convolutions ran as QLinearConv, and (tflite-exact) summed in exact float32 or ConvInteger's int32. */
  convs: { qlinear: number; float32: number; integer: number };
}

/** Float32 sums of integers are exact while every partial sum stays below 2^24. */
const FLOAT32_EXACT = 2 ** 24;

export function convertTfliteInteger(
  g: GraphBuilder,
  model: TfliteModel,
  pixels: Value,
  options: { inputSize: [number, number]; stopAfterPool?: boolean; source: string; arithmetic: IntegerArithmetic },
): IntegerNetwork {
  const source = options.source;
  const quant = (t: TfliteTensor): { scale: number; zeroPoint: number } => {
    const q = t.quantization;
    if (q?.scale.length !== 1) {
      throw new UnsupportedModelError(source, `tensor ${t.name} is not quantised per tensor (the uint8 scheme)`);
    }
    return { scale: q.scale[0]!, zeroPoint: q.zeroPoint[0] ?? 0 };
  };
  const uint8 = (t: TfliteTensor) => {
    if (t.type !== 'uint8') {
      throw new UnsupportedModelError(source, `tensor ${t.name} is ${t.type}; the integer path runs uint8 models`);
    }
    return quant(t);
  };

  const [, channels, height, width] = pixels.shape;
  if (channels !== 3 || height !== options.inputSize[0] || width !== options.inputSize[1]) {
    throw new InputError(
      source,
      `pixels are [${pixels.shape.join(',')}], expected [N,3,${options.inputSize.join(',')}] (static spatial size)`,
    );
  }
  const lastPool = lastPoolIndex(model);
  if (lastPool < 0) throw new UnsupportedModelError(source, `no AVERAGE_POOL_2D, not a MobileNet-like CNN`);

  const codes = new Map<number, Value>();
  const inputIndex = model.inputs[0]!;
  codes.set(inputIndex, quantizeInput(g, pixels, uint8(model.tensors[inputIndex]!)));
  const convs = { qlinear: 0, float32: 0, integer: 0 };
  let features: QuantizedValue | undefined;
  let pooled: QuantizedValue | undefined;
  let logits: QuantizedValue | undefined;

  const read = (op: TfliteOperator, k = 0): { v: Value; t: TfliteTensor } => {
    const index = op.inputs[k]!;
    const v = codes.get(index);
    if (!v) throw new UnsupportedModelError(source, `${op.opName} reads tensor ${index} before it is computed`);
    return { v, t: model.tensors[index]! };
  };
  // Between layers codes travel as float32 where float convs read them (one Cast fewer per
  // layer); the network's outputs are uint8.
  const withQuant = (v: Value, t: TfliteTensor): QuantizedValue => ({ codes: asCodes(g, v, 'uint8'), ...quant(t) });

  for (let k = 0; k < model.operators.length; k++) {
    const op = model.operators[k]!;
    const out = model.tensors[op.outputs[0]!]!;
    let y: Value;
    switch (op.code) {
      case BUILTIN.CONV_2D:
      case BUILTIN.DEPTHWISE_CONV_2D: {
        const x = read(op);
        const layer = readConvLayer(model, op, x.v, source);
        const r = (options.arithmetic === 'onnxruntime' ? qlinearConv : integerConv)(
          g,
          layer,
          x.v,
          uint8(x.t),
          uint8(out),
        );
        convs[r.kind]++;
        y = r.y;
        break;
      }
      case BUILTIN.AVERAGE_POOL_2D: {
        if (k !== lastPool) {
          throw new UnsupportedModelError(source, `the integer path pools only globally (the last AVERAGE_POOL_2D)`);
        }
        if (op.options.kind !== 'pool') throw new UnsupportedModelError(source, `pool without options`);
        const x = read(op);
        const q = uint8(out);
        if (quant(x.t).scale !== q.scale || quant(x.t).zeroPoint !== q.zeroPoint) {
          throw new UnsupportedModelError(
            source,
            `${op.opName} changes the quantisation; TFLite's uint8 pool does not`,
          );
        }
        features = withQuant(x.v, x.t);
        y = globalAveragePool(g, x.v, activationRange(op.options.activation, q.scale, q.zeroPoint));
        break;
      }
      case BUILTIN.ADD:
        y = integerAdd(g, op, read(op, 0), read(op, 1), out, quant, source);
        break;
      case BUILTIN.RESHAPE: {
        const x = read(op).v;
        const target = out.shape;
        if (!(x.shape.length === 4 && x.shape[2] === 1 && x.shape[3] === 1 && target.length === 2)) {
          throw new UnsupportedModelError(source, `RESHAPE other than [N,1,1,C] → [N,C] is not supported`);
        }
        y = g.op('Reshape', [x, g.ints([-1, target[1]!])]);
        break;
      }
      case BUILTIN.SOFTMAX: {
        const x = read(op);
        logits = withQuant(x.v, x.t);
        y = x.v;
        break;
      }
      default:
        throw new UnsupportedModelError(source, `TFLite op ${op.opName} is not supported by the integer path`);
    }
    codes.set(op.outputs[0]!, y);
    if (k === lastPool) {
      pooled = withQuant(y, out);
      if (options.stopAfterPool) break;
    }
    if (op.code === BUILTIN.SOFTMAX) break;
  }
  if (!features || !pooled) throw new UnsupportedModelError(source, `the last pool was not reached`);
  if (!options.stopAfterPool && !logits) {
    const index = model.outputs[0]!;
    const v = codes.get(index);
    if (v) logits = withQuant(v, model.tensors[index]!);
  }
  return { features, pooled, convs, ...(logits ? { logits } : {}) };
}

/** Float pixels (normalised as scale·(u − zp)) → the input codes round(x/scale) + zp, clamped to uint8, in one op. */
function quantizeInput(g: GraphBuilder, pixels: Value, q: { scale: number; zeroPoint: number }): Value {
  return g.op('QuantizeLinear', [pixels, g.scalar(q.scale), g.scalar(q.zeroPoint, 'uint8')]);
}

/** A tensor's quantisation: real = scale·(q − zeroPoint). */
type Quant = { scale: number; zeroPoint: number };

/** A convolution's output codes, and which kind of kernel summed it. */
type ConvResult = { y: Value; kind: 'qlinear' | 'float32' | 'integer' };

/** A CONV_2D / DEPTHWISE_CONV_2D of the file, in ONNX's terms. */
interface IntegerConvLayer {
  name: string;
  /** uint8 weight codes in ONNX layout [O, I/group, kh, kw]. */
  weights: Uint8Array;
  dims: [number, number, number, number];
  weightScale: number;
  weightZeroPoint: number;
  bias?: number[];
  pads: number[];
  attrs: { strides: number[]; dilations?: number[]; group?: number };
  activation: Activation;
}

function readConvLayer(model: TfliteModel, op: TfliteOperator, x: Value, source: string): IntegerConvLayer {
  if (op.options.kind !== 'conv') throw new UnsupportedModelError(source, `${op.opName} without options`);
  const o = op.options;
  const wt = model.tensors[op.inputs[1]!]!;
  const bt = op.inputs[2] !== undefined && op.inputs[2] >= 0 ? model.tensors[op.inputs[2]]! : undefined;
  if (wt.type !== 'uint8' || !wt.data || wt.quantization?.scale.length !== 1) {
    throw new UnsupportedModelError(source, `${op.opName} weights ${wt.name} are not per-tensor uint8`);
  }
  if (bt && bt.type !== 'int32') throw new UnsupportedModelError(source, `${op.opName} bias ${bt.name} is not int32`);
  const depthwise = op.code === BUILTIN.DEPTHWISE_CONV_2D;
  const [d0, kh, kw, d3] = wt.shape as [number, number, number, number];
  const outC = depthwise ? d3 : d0;
  const inPerGroup = depthwise ? 1 : d3;
  // [O,kh,kw,I] (CONV_2D) or [1,kh,kw,C·m] (DEPTHWISE) → ONNX [O, I/group, kh, kw], as uint8 codes.
  const w = new Uint8Array(outC * inPerGroup * kh * kw);
  for (let oc = 0; oc < outC; oc++) {
    for (let ic = 0; ic < inPerGroup; ic++) {
      for (let y = 0; y < kh; y++) {
        for (let xx = 0; xx < kw; xx++) {
          const src = depthwise ? (y * kw + xx) * d3 + oc : ((oc * kh + y) * kw + xx) * d3 + ic;
          w[((oc * inPerGroup + ic) * kh + y) * kw + xx] = wt.data[src]!;
        }
      }
    }
  }
  const name = layerName(wt.name);
  const [h, wi] = [x.shape[2], x.shape[3]];
  if (typeof h !== 'number' || typeof wi !== 'number') {
    throw new UnsupportedModelError(source, `${name}: spatial size must be static`);
  }
  const ph = o.padding === 'same' ? samePads(h, kh, o.stride[0], o.dilation[0]) : [0, 0];
  const pw = o.padding === 'same' ? samePads(wi, kw, o.stride[1], o.dilation[1]) : [0, 0];
  const inC = x.shape[1];
  const group = depthwise ? (typeof inC === 'number' ? inC : outC / o.depthMultiplier) : 1;
  return {
    name,
    weights: w,
    dims: [outC, inPerGroup, kh, kw],
    weightScale: wt.quantization.scale[0]!,
    weightZeroPoint: wt.quantization.zeroPoint[0] ?? 0,
    ...(bt ? { bias: integerValues(bt) } : {}),
    pads: [ph[0]!, pw[0]!, ph[1]!, pw[1]!],
    attrs: {
      strides: [...o.stride],
      ...(o.dilation[0] !== 1 || o.dilation[1] !== 1 ? { dilations: [...o.dilation] } : {}),
      ...(group !== 1 ? { group } : {}),
    },
    activation: o.activation,
  };
}

/**
 * A convolution on ONNX Runtime's QLinearConv, uint8 codes in and out. Its zero-point padding
 * is TFLite's (ONNX Runtime pads with the input zero point). The weights go in as int8 (code −
 * 128, zero point − 128: the same integers) because MLAS's fast x86 kernels multiply u8 by s8.
 */
function qlinearConv(g: GraphBuilder, layer: IntegerConvLayer, x: Value, xq: Quant, yq: Quant): ConvResult {
  const [outC] = layer.dims;
  const weights = g.constant(
    tensor(
      'int8',
      layer.dims,
      Int8Array.from(layer.weights, (q) => q - 128),
    ),
    `${layer.name}.weight_s8`,
  );
  const bias = g.constant(
    tensor('int32', [outC], Int32Array.from(layer.bias ?? new Array<number>(outC).fill(0))),
    `${layer.name}.bias_i32`,
  );
  const conv = g.op(
    'QLinearConv',
    [
      asCodes(g, x, 'uint8'),
      g.scalar(xq.scale),
      g.scalar(xq.zeroPoint, 'uint8'),
      weights,
      g.scalar(layer.weightScale),
      g.scalar(layer.weightZeroPoint - 128, 'int8'),
      g.scalar(yq.scale),
      g.scalar(yq.zeroPoint, 'uint8'),
      bias,
    ],
    { ...layer.attrs, pads: layer.pads },
  );
  const [lo, hi] = activationRange(layer.activation, yq.scale, yq.zeroPoint);
  // A fused activation whose range is the whole uint8 range (relu6 on a [0, 6] output) clamps nothing.
  const y = lo === 0 && hi === 255 ? conv : g.op('Clip', [conv, g.scalar(lo, 'uint8'), g.scalar(hi, 'uint8')]);
  return { y, kind: 'qlinear' };
}

/**
 * CONV_2D / DEPTHWISE_CONV_2D + int32 bias + requantisation + fused activation, as TFLite's
 * reference kernels. Where no sum can reach 2^24 (3×3 depthwise: 9 products; the first 3×3×3
 * conv: 27; pointwise over up to 256 channels), a float32 Conv of (q − zp) values is exact and
 * uses ONNX Runtime's fast float kernels; otherwise (v1: the six pointwise convs over 512 or
 * 1024 channels) ConvInteger accumulates in int32.
 */
function integerConv(g: GraphBuilder, layer: IntegerConvLayer, x: Value, xq: Quant, yq: Quant): ConvResult {
  const { name, pads, attrs, weights: w } = layer;
  const [outC, inPerGroup, kh, kw] = layer.dims;
  const ws = layer.weightScale;
  const wz = layer.weightZeroPoint;
  // Worst case over any input, not just this weight set's: the float32 Conv may sum in any order.
  const terms = inPerGroup * kh * kw;
  const bound = terms * Math.max(xq.zeroPoint, 255 - xq.zeroPoint) * Math.max(wz, 255 - wz);
  let acc: Value;
  let kind: 'float32' | 'integer';
  if (bound < FLOAT32_EXACT) {
    // Padding with 0 in the centred domain is padding with the input zero point, as TFLite does.
    const centred = dequantizeCodes(g, x, 1, xq.zeroPoint);
    const wf = g.constant(
      tensor(
        'float32',
        [outC, inPerGroup, kh, kw],
        Float32Array.from(w, (q) => q - wz),
      ),
      `${name}.weight_centred`,
    );
    acc = g.op('Conv', [centred, wf], { ...attrs, pads });
    kind = 'float32';
  } else {
    // ConvInteger's own padding value is not pinned down by the spec; pad with the zero point
    // explicitly.
    const x8 = asCodes(g, x, 'uint8');
    const padded = pads.some((p) => p !== 0)
      ? g.op('Pad', [x8, g.ints([0, 0, pads[0]!, pads[1]!, 0, 0, pads[2]!, pads[3]!]), g.scalar(xq.zeroPoint, 'uint8')])
      : x8;
    const wq = g.constant(tensor('uint8', [outC, inPerGroup, kh, kw], w), `${name}.weight_u8`);
    acc = g.op('ConvInteger', [padded, wq, g.scalar(xq.zeroPoint, 'uint8'), g.scalar(wz, 'uint8')], attrs);
    kind = 'integer';
  }
  // TFLite (kernel_util.cc GetQuantizedConvolutionMultipler) forms the multiplier in double.
  const m = quantizeMultiplier((xq.scale * ws) / yq.scale);
  const bias = layer.bias;
  const y = requantizeCodes(g, acc, m, {
    as: 'float32',
    ...(bias ? { bias } : {}),
    bound: accumulatorBound(w, outC, wz, xq.zeroPoint) + Math.max(0, ...(bias ?? []).map(Math.abs)),
    zeroPoint: yq.zeroPoint,
    range: activationRange(layer.activation, yq.scale, yq.zeroPoint),
  });
  return { y, kind };
}

/** max over output channels of Σ|w − zw| · max|x − zx|: no accumulator can exceed it. */
function accumulatorBound(w: Uint8Array, outC: number, wz: number, xz: number): number {
  const per = w.length / outC;
  let worst = 0;
  for (let oc = 0; oc < outC; oc++) {
    let sum = 0;
    for (let i = oc * per; i < (oc + 1) * per; i++) sum += Math.abs(w[i]! - wz);
    worst = Math.max(worst, sum);
  }
  return worst * Math.max(xz, 255 - xz);
}

/** TFLite's uint8 average pool over the whole map: (Σq + n/2) / n with integer division. */
function globalAveragePool(g: GraphBuilder, x: Value, range: [number, number]): Value {
  const [h, w] = [x.shape[2], x.shape[3]];
  if (typeof h !== 'number' || typeof w !== 'number') throw new Error('global pool needs a static spatial size');
  const count = h * w;
  if (count * 255 >= FLOAT32_EXACT) throw new Error(`a ${h}×${w} pool could round its float32 sum`);
  const sum = g.op('ReduceSum', [asCodes(g, x, 'float32'), g.ints([2, 3])], { keepdims: 1 });
  const total = g.op('Add', [g.op('Cast', [sum], { to: 7 /* INT64 */ }), g.scalar(Math.floor(count / 2), 'int64')]);
  return toCodes(g, g.op('Div', [total, g.scalar(count, 'int64')]), 0, range);
}

/** TFLite's uint8 ADD: both inputs rescaled to a common 2^20 fixed point, summed, requantised. */
function integerAdd(
  g: GraphBuilder,
  op: TfliteOperator,
  a: { v: Value; t: TfliteTensor },
  b: { v: Value; t: TfliteTensor },
  out: TfliteTensor,
  quant: (t: TfliteTensor) => { scale: number; zeroPoint: number },
  source: string,
): Value {
  if (a.v.shape.join() !== b.v.shape.join()) {
    throw new UnsupportedModelError(source, `${op.opName} with broadcasting is not supported by the integer path`);
  }
  const qa = quant(a.t);
  const qb = quant(b.t);
  const qo = quant(out);
  const leftShift = 20;
  // add.cc: twice_max_input_scale = 2·max(s1, s2) (float max, then double).
  const twiceMax = 2 * Math.max(qa.scale, qb.scale);
  const side = (v: Value, q: { scale: number; zeroPoint: number }) => {
    const centred = g.op('Sub', [g.op('Cast', [v], { to: 7 /* INT64 */ }), g.scalar(q.zeroPoint, 'int64')]);
    const shifted = g.op('Mul', [centred, g.scalar(2 ** leftShift, 'int64')]);
    return multiplyByQuantizedMultiplier(g, shifted, quantizeMultiplier(q.scale / twiceMax));
  };
  const sum = g.op('Add', [side(a.v, qa), side(b.v, qb)]);
  const scaled = multiplyByQuantizedMultiplier(g, sum, quantizeMultiplier(twiceMax / (2 ** leftShift * qo.scale)));
  const activation = op.options.kind === 'activation' ? op.options.activation : 'none';
  return toCodes(g, scaled, qo.zeroPoint, activationRange(activation, qo.scale, qo.zeroPoint));
}
