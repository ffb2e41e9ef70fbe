import { type LoraConfig, type LoraTarget, loraConv } from '@anymc3d/core/backbone';
import { type GraphBuilder, tensor, type Value } from '@anymc3d/core/graph';
import { InputError } from '@anymc3d/core/util';
import { type Activation, BUILTIN, dequantize, type TfliteModel, type TfliteOperator } from '../tflite/index.js';
import { emulateUint8, requantShift } from './emulate-uint8.js';

/**
 * Rebuilds a quantised TFLite CNN as a float network in the graph IR: weights dequantised,
 * layout NHWC → NCHW, activations kept in float (so the network is differentiable and LoRA can
 * attach). `fakeQuant` re-inserts each activation's uint8 rounding as TFLite's integer kernels
 * do it (emulate-uint8.ts), to check the rebuild against the integer model.
 */

export interface ConvertOptions {
  /** Static input size [H, W]; SAME padding is resolved from it. */
  inputSize: [number, number];
  lora?: LoraConfig;
  /** Stop after the last average pool (the backbone part; no classifier). */
  stopAfterPool?: boolean;
  fakeQuant?: boolean;
  /** Name of the model in messages. */
  source: string;
}

export interface ConvertedNetwork {
  /** Input of the last average pool: [N, C, h, w]. */
  features: Value;
  /** Global average of `features`: [N, C, 1, 1]. */
  pooled: Value;
  /** The model's last output before a final SOFTMAX (logits), when not stopped at the pool. */
  logits?: Value;
  /** The model's output (after SOFTMAX, if any). */
  output?: Value;
  /** Every converted TFLite tensor by index (NCHW for feature maps), e.g. for auxiliary outputs. */
  tensors: ReadonlyMap<number, Value>;
}

/** A TFLite graph this converter cannot rebuild (an op or layout it does not know). */
export class UnsupportedModelError extends InputError {}

/** A short, stable name for a conv from its weight tensor (e.g. `expanded_conv_3.project`). */
export function layerName(weightTensorName: string): string {
  const path = (weightTensorName.split(';')[0] ?? weightTensorName).split('/');
  const parts = path.slice(0, -1).filter((p) => !/^Mobilenet(V\d)?$/i.test(p));
  return parts.length ? parts.join('.') : weightTensorName;
}

/** Pointwise (1×1, ungrouped) convolutions before the last pool: where LoRA attaches. */
export function pointwiseTargets(model: TfliteModel): LoraTarget[] {
  const lastPool = lastPoolIndex(model);
  const targets: LoraTarget[] = [];
  model.operators.forEach((op, k) => {
    if (k > lastPool || op.code !== BUILTIN.CONV_2D || op.options.kind !== 'conv') return;
    const w = model.tensors[op.inputs[1]!]!;
    const [out, kh, kw, inC] = w.shape as [number, number, number, number];
    if (kh !== 1 || kw !== 1 || op.options.stride[0] !== 1 || op.options.stride[1] !== 1) return;
    targets.push({
      name: layerName(w.name),
      kind: 'conv',
      inFeatures: inC,
      outFeatures: out,
      kernel: [1, 1],
      stride: [1, 1],
    });
  });
  return targets;
}

export function lastPoolIndex(model: TfliteModel): number {
  for (let k = model.operators.length - 1; k >= 0; k--) {
    if (model.operators[k]!.code === BUILTIN.AVERAGE_POOL_2D) return k;
  }
  return -1;
}

/** TFLite SAME padding: the odd extra pixel goes at the end (as ONNX SAME_UPPER). */
export function samePads(size: number, kernel: number, stride: number, dilation: number): [number, number] {
  const out = Math.ceil(size / stride);
  const total = Math.max((out - 1) * stride + (kernel - 1) * dilation + 1 - size, 0);
  const before = Math.floor(total / 2);
  return [before, total - before];
}

function staticSpatial(v: Value, what: string): [number, number] {
  const [, , h, w] = v.shape;
  if (typeof h !== 'number' || typeof w !== 'number')
    throw new UnsupportedModelError(what, `spatial size must be static`);
  return [h, w];
}

export function convertTflite(
  g: GraphBuilder,
  model: TfliteModel,
  pixels: Value,
  options: ConvertOptions,
): ConvertedNetwork {
  const values = new Map<number, Value>();
  const inputIndex = model.inputs[0]!;
  values.set(inputIndex, pixels);
  const lastPool = lastPoolIndex(model);
  if (lastPool < 0) throw new UnsupportedModelError(options.source, `no AVERAGE_POOL_2D, not a MobileNet-like CNN`);
  const targets = new Map(pointwiseTargets(model).map((t) => [t.name, t]));
  let features: Value | undefined;
  let pooled: Value | undefined;
  let logits: Value | undefined;
  let output: Value | undefined;

  const [, channels, height, width] = pixels.shape;
  if (channels !== 3 || height !== options.inputSize[0] || width !== options.inputSize[1]) {
    throw new InputError(
      options.source,
      `pixels are [${pixels.shape.join(',')}], expected [N,3,${options.inputSize.join(',')}] (static spatial size)`,
    );
  }

  const get = (index: number, op: TfliteOperator): Value => {
    const v = values.get(index);
    if (!v) throw new UnsupportedModelError(options.source, `${op.opName} reads tensor ${index} before it is computed`);
    return v;
  };

  const quantiseLike = (y: Value, op: TfliteOperator): Value => {
    const t = model.tensors[op.outputs[0]!]!;
    const q = t.quantization;
    if (!options.fakeQuant || !q || q.scale.length !== 1 || t.type !== 'uint8') return y;
    return emulateUint8(g, y, q.scale[0]!, q.zeroPoint[0] ?? 0, requantShift(model, op));
  };

  for (let k = 0; k < model.operators.length; k++) {
    const op = model.operators[k]!;
    const outIndex = op.outputs[0]!;
    let y: Value;
    switch (op.code) {
      case BUILTIN.CONV_2D:
      case BUILTIN.DEPTHWISE_CONV_2D:
        y = conv(g, model, op, get(op.inputs[0]!, op), targets, options);
        break;
      case BUILTIN.AVERAGE_POOL_2D: {
        const x = get(op.inputs[0]!, op);
        if (op.options.kind !== 'pool') throw new UnsupportedModelError(options.source, `pool without options`);
        const [h, w] = staticSpatial(x, op.opName);
        const [fh, fw] = op.options.filter;
        if (k === lastPool) {
          // The last pool covers the whole map at the native size; as a global average it keeps
          // doing so at other input sizes.
          features = x;
          y = g.op('GlobalAveragePool', [x]);
        } else {
          const ph = op.options.padding === 'same' ? samePads(h, fh, op.options.stride[0], 1) : [0, 0];
          const pw = op.options.padding === 'same' ? samePads(w, fw, op.options.stride[1], 1) : [0, 0];
          y = g.op('AveragePool', [x], {
            kernel_shape: [fh, fw],
            strides: [...op.options.stride],
            pads: [ph[0]!, pw[0]!, ph[1]!, pw[1]!],
          });
        }
        y = activate(g, y, op.options.activation, op, options.source);
        break;
      }
      case BUILTIN.ADD: {
        const a = get(op.inputs[0]!, op);
        const b = get(op.inputs[1]!, op);
        const act = op.options.kind === 'activation' ? op.options.activation : 'none';
        y = activate(g, g.op('Add', [a, b]), act, op, options.source);
        break;
      }
      case BUILTIN.RESHAPE: {
        const x = get(op.inputs[0]!, op);
        const target = model.tensors[outIndex]!.shape;
        const spatialOne = x.shape.length === 4 && x.shape[2] === 1 && x.shape[3] === 1;
        if (!spatialOne || target.length !== 2) {
          throw new UnsupportedModelError(options.source, `RESHAPE other than [N,1,1,C] → [N,C] is not supported`);
        }
        y = g.op('Reshape', [x, g.ints([-1, target[1]!])]);
        break;
      }
      case BUILTIN.SOFTMAX: {
        const x = get(op.inputs[0]!, op);
        logits = x;
        const beta = op.options.kind === 'softmax' ? op.options.beta : 1;
        y = g.op('Softmax', [beta === 1 ? x : g.op('Mul', [x, g.scalar(beta)])], { axis: -1 });
        break;
      }
      case BUILTIN.QUANTIZE:
      case BUILTIN.DEQUANTIZE:
        // Only changes the representation; in the float network the value is the same.
        y = get(op.inputs[0]!, op);
        break;
      default:
        throw new UnsupportedModelError(options.source, `TFLite op ${op.opName} is not supported`);
    }
    if (op.code !== BUILTIN.SOFTMAX) y = quantiseLike(y, op);
    values.set(outIndex, y);
    if (k === lastPool) {
      pooled = y;
      if (options.stopAfterPool) break;
    }
  }
  if (!features || !pooled) throw new UnsupportedModelError(options.source, `the last pool was not reached`);
  if (!options.stopAfterPool) {
    output = values.get(model.outputs[0]!);
    if (!logits) logits = output;
  }
  return { features, pooled, tensors: values, ...(logits ? { logits } : {}), ...(output ? { output } : {}) };
}

function conv(
  g: GraphBuilder,
  model: TfliteModel,
  op: TfliteOperator,
  x: Value,
  targets: ReadonlyMap<string, LoraTarget>,
  options: ConvertOptions,
): Value {
  if (op.options.kind !== 'conv') throw new UnsupportedModelError(options.source, `${op.opName} without options`);
  const o = op.options;
  const wt = model.tensors[op.inputs[1]!]!;
  const bt = op.inputs[2] !== undefined && op.inputs[2] >= 0 ? model.tensors[op.inputs[2]]! : undefined;
  const depthwise = op.code === BUILTIN.DEPTHWISE_CONV_2D;
  const raw = dequantize(wt);
  const [d0, kh, kw, d3] = wt.shape as [number, number, number, number];
  // CONV_2D weights are [O,kh,kw,I]; DEPTHWISE_CONV_2D weights are [1,kh,kw,C·m]. ONNX wants
  // [O, I/group, kh, kw].
  const outC = depthwise ? d3 : d0;
  const inPerGroup = depthwise ? 1 : d3;
  const w = new Float32Array(outC * inPerGroup * kh * kw);
  for (let oc = 0; oc < outC; oc++) {
    for (let ic = 0; ic < inPerGroup; ic++) {
      for (let y = 0; y < kh; y++) {
        for (let xx = 0; xx < kw; xx++) {
          const src = depthwise ? (y * kw + xx) * d3 + oc : ((oc * kh + y) * kw + xx) * d3 + ic;
          w[((oc * inPerGroup + ic) * kh + y) * kw + xx] = raw[src]!;
        }
      }
    }
  }
  const name = layerName(wt.name);
  const [h, wi] = staticSpatial(x, `${options.source} ${name}`);
  const ph = o.padding === 'same' ? samePads(h, kh, o.stride[0], o.dilation[0]) : [0, 0];
  const pw = o.padding === 'same' ? samePads(wi, kw, o.stride[1], o.dilation[1]) : [0, 0];
  const pads = [ph[0]!, pw[0]!, ph[1]!, pw[1]!];
  const weight = g.param(`${name}.weight`, tensor('float32', [outC, inPerGroup, kh, kw], w));
  const bias = bt ? g.param(`${name}.bias`, tensor('float32', [outC], dequantize(bt))) : undefined;
  const inC = x.shape[1];
  const group = depthwise ? (typeof inC === 'number' ? inC : outC / o.depthMultiplier) : 1;
  const dilated = o.dilation[0] !== 1 || o.dilation[1] !== 1;
  const target = targets.get(name);
  let y: Value;
  if (target && !depthwise && !dilated) {
    y = loraConv(g, x, weight, bias, target, options.lora, { strides: [...o.stride], pads });
  } else {
    y = g.op('Conv', bias ? [x, weight, bias] : [x, weight], {
      strides: [...o.stride],
      pads,
      ...(dilated ? { dilations: [...o.dilation] } : {}),
      ...(group !== 1 ? { group } : {}),
    });
  }
  return activate(g, y, o.activation, op, options.source);
}

function activate(g: GraphBuilder, y: Value, activation: Activation, op: TfliteOperator, source: string): Value {
  switch (activation) {
    case 'none':
      return y;
    case 'relu':
      return g.op('Relu', [y]);
    case 'relu6':
      return g.op('Clip', [y, g.scalar(0), g.scalar(6)]);
    case 'relu_n1_to_1':
      return g.op('Clip', [y, g.scalar(-1), g.scalar(1)]);
    default:
      throw new UnsupportedModelError(source, `${op.opName} fused activation ${activation} is not supported`);
  }
}
