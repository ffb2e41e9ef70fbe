import { intAttr, intsAttr } from '../attributes.js';
import type { Node, Value } from '../builder.js';
import { type GradContext, type GradRule, normAxis, range } from './context.js';

/**
 * Gradients of the network ops, in the forms ORT-BACKWARD.md measured: softmax′ as
 * P·(dP − rowsum(dP·P)), LayerNorm′ from the forward's Mean/InvStdDev outputs, Conv′ as a
 * ConvTranspose for the input and a patch-matrix product for the weight where the conv is a
 * patch embedding.
 */

function rowSum(c: GradContext, x: Value, axis: number): Value {
  return c.op('ReduceSum', [x, c.g.ints([axis])], { keepdims: 1 });
}

function epsilonOf(node: Node): number {
  const e = node.attrs.epsilon;
  if (typeof e === 'number') return e;
  if (e && typeof e === 'object' && 'value' in e && typeof e.value === 'number') return e.value;
  return 1e-5;
}

function layerNormGrad(c: GradContext, node: Node, dy: Value): (Value | undefined)[] {
  const x = c.value(node.inputs[0]!);
  const rank = x.shape.length;
  const axis = normAxis(intAttr(node.attrs, 'axis', -1), rank);
  const normAxes = range(rank - axis, axis);
  const cast = (v: Value) => (v.dtype === x.dtype ? v : c.op('Cast', [v], { to: x.dtype === 'float64' ? 11 : 1 }));
  let mean: Value;
  let invStd: Value;
  if (node.outputs.length >= 3) {
    mean = cast(c.value(node.outputs[1]!));
    invStd = cast(c.value(node.outputs[2]!));
  } else {
    mean = c.op('ReduceMean', [x], { axes: normAxes, keepdims: 1 });
    const centred = c.op('Sub', [x, mean]);
    const variance = c.op('ReduceMean', [c.op('Mul', [centred, centred])], { axes: normAxes, keepdims: 1 });
    invStd = c.op('Reciprocal', [c.op('Sqrt', [c.op('Add', [variance, c.scalar(epsilonOf(node), x)])])]);
  }
  const xhat = c.op('Mul', [c.op('Sub', [x, mean]), invStd]);
  const scale = c.value(node.inputs[1]!);
  const leading = range(axis);
  const sumLeading = (v: Value) => (leading.length ? c.op('ReduceSum', [v, c.g.ints(leading)], { keepdims: 0 }) : v);
  let dx: Value | undefined;
  if (c.needs(node, 0)) {
    const gs = c.op('Mul', [dy, scale]);
    const meanG = c.op('ReduceMean', [gs], { axes: normAxes, keepdims: 1 });
    const meanGX = c.op('ReduceMean', [c.op('Mul', [gs, xhat])], { axes: normAxes, keepdims: 1 });
    dx = c.op('Mul', [invStd, c.op('Sub', [c.op('Sub', [gs, meanG]), c.op('Mul', [xhat, meanGX])])]);
  }
  const dScale = c.needs(node, 1) ? sumLeading(c.op('Mul', [dy, xhat])) : undefined;
  const dBias = node.inputs[2] && c.needs(node, 2) ? sumLeading(dy) : undefined;
  return [dx, dScale, dBias];
}

function convAttrs(node: Node, spatial: number) {
  const strides = intsAttr(node.attrs, 'strides') ?? new Array<number>(spatial).fill(1);
  const pads = intsAttr(node.attrs, 'pads') ?? new Array<number>(2 * spatial).fill(0);
  const dilations = intsAttr(node.attrs, 'dilations') ?? new Array<number>(spatial).fill(1);
  if (dilations.some((d) => d !== 1)) throw new Error('gradient: dilated Conv is not supported');
  if (node.attrs.auto_pad && node.attrs.auto_pad !== 'NOTSET')
    throw new Error('gradient: Conv auto_pad is not supported');
  return { strides: [...strides], pads: [...pads], group: intAttr(node.attrs, 'group', 1) };
}

/** dW for a conv whose windows tile the input exactly (patch embedding, 1×1): one matrix product. */
function patchWeightGrad(c: GradContext, x: Value, w: Value, dy: Value, kernel: number[]): Value {
  const spatial = kernel.length;
  const [cin] = [x.shape[1] as number];
  const grid = dy.shape.slice(2) as number[];
  const out = w.shape[0] as number;
  // x [N,C,g1·k1,…] → [N,C,g1,k1,…] → [N,g…,C,k…] → [N·G, C·K]
  const kSize = kernel.reduce((p, q) => p * q, 1);
  let x2: Value;
  if (kSize === 1) {
    // 1×1: channels last, every position a row (symbolic spatial dims allowed).
    x2 = c.op('Reshape', [c.op('Transpose', [x], { perm: [0, ...range(spatial, 2), 1] }), c.g.ints([-1, cin])]);
  } else {
    const split = [-1, cin, ...grid.flatMap((gk, s) => [gk, kernel[s]!])];
    const x6 = c.op('Reshape', [x, c.g.ints(split)]);
    const perm = [0, ...range(spatial).map((s) => 2 + 2 * s), 1, ...range(spatial).map((s) => 3 + 2 * s)];
    x2 = c.op('Reshape', [c.op('Transpose', [x6], { perm }), c.g.ints([-1, cin * kSize])]);
  }
  // dy [N,O,g…] → [N,g…,O] → [N·G, O]
  const dy2 = c.op('Reshape', [c.op('Transpose', [dy], { perm: [0, ...range(spatial, 2), 1] }), c.g.ints([-1, out])]);
  const dw = c.op('MatMul', [c.op('Transpose', [dy2], { perm: [1, 0] }), x2]);
  return c.op('Reshape', [dw, c.g.ints(w.shape as number[])]);
}

/** General dW: correlate the input with the output gradient, the stride becoming a dilation. */
function generalWeightGrad(c: GradContext, x: Value, w: Value, dy: Value, strides: number[], pads: number[]): Value {
  const spatial = strides.length;
  const swap = [1, 0, ...range(spatial, 2)];
  const xt = c.op('Transpose', [x], { perm: swap });
  const dyt = c.op('Transpose', [dy], { perm: swap });
  const kernel = w.shape.slice(2) as number[];
  const symbolic = dy.shape.slice(2).some((d) => typeof d !== 'number');
  if (symbolic && strides.some((st) => st !== 1)) throw new Error('gradient: strided Conv with symbolic spatial dims');
  // With stride 1 the correlation's output is exactly the kernel, whatever the (symbolic) sizes.
  const corr = symbolic
    ? c.g.op(
        'Conv',
        [xt, dyt],
        { pads, dilations: strides },
        { outputs: [{ dtype: x.dtype, shape: [x.shape[1]!, w.shape[0]!, ...kernel] }] },
      )
    : c.op('Conv', [xt, dyt], { pads, dilations: strides });
  let dw = c.op('Transpose', [corr], { perm: swap });
  if (dw.shape.slice(2).some((d, s) => d !== kernel[s])) {
    dw = c.op('Slice', [dw, c.g.ints(kernel.map(() => 0)), c.g.ints(kernel), c.g.ints(range(spatial, 2))]);
  }
  return dw;
}

function convGrad(c: GradContext, node: Node, dy: Value): (Value | undefined)[] {
  const x = c.value(node.inputs[0]!);
  const w = c.value(node.inputs[1]!);
  const spatial = x.shape.length - 2;
  const { strides, pads, group } = convAttrs(node, spatial);
  const kernel = w.shape.slice(2) as number[];
  let dx: Value | undefined;
  if (c.needs(node, 0)) {
    const outPad = range(spatial).map((s) => {
      if (strides[s] === 1) return 0;
      const size = x.shape[2 + s];
      const n = dy.shape[2 + s];
      if (typeof size !== 'number' || typeof n !== 'number')
        throw new Error('gradient: Conv with symbolic spatial dims');
      return size - (strides[s]! * (n - 1) + kernel[s]! - pads[s]! - pads[s + spatial]!);
    });
    // W [O, C/g, k…] read as ConvTranspose's [O, C/g, k…] maps O channels back to C, group by group
    // (a depthwise conv's input gradient is a depthwise transposed conv).
    dx = c.op('ConvTranspose', [dy, w], { strides, pads, output_padding: outPad, kernel_shape: kernel, group });
  }
  let dw: Value | undefined;
  if (c.needs(node, 1)) {
    if (group !== 1) throw new Error('gradient: the weight gradient of a grouped Conv is not supported');
    const pointwise = kernel.every((k, s) => k === 1 && strides[s] === 1);
    const tiles =
      pads.every((p) => p === 0) &&
      (pointwise ||
        kernel.every((k, s) => k === strides[s] && (x.shape[2 + s] as number) === k * (dy.shape[2 + s] as number)));
    dw = tiles ? patchWeightGrad(c, x, w, dy, kernel) : generalWeightGrad(c, x, w, dy, strides, pads);
  }
  const db =
    node.inputs[2] && c.needs(node, 2)
      ? c.op('ReduceSum', [dy, c.g.ints([0, ...range(spatial, 2)])], { keepdims: 0 })
      : undefined;
  return [dx, dw, db];
}

export const NN_RULES: Record<string, GradRule> = {
  Softmax: (c, node, [dy]) => {
    if (!dy || !c.needs(node, 0)) return [];
    const y = c.value(node.outputs[0]!);
    const axis = normAxis(intAttr(node.attrs, 'axis', -1), y.shape.length);
    const dot = rowSum(c, c.op('Mul', [dy, y]), axis);
    return [c.op('Mul', [y, c.op('Sub', [dy, dot])])];
  },
  LogSoftmax: (c, node, [dy]) => {
    if (!dy || !c.needs(node, 0)) return [];
    const y = c.value(node.outputs[0]!);
    const axis = normAxis(intAttr(node.attrs, 'axis', -1), y.shape.length);
    return [c.op('Sub', [dy, c.op('Mul', [c.op('Exp', [y]), rowSum(c, dy, axis)])])];
  },
  LayerNormalization: (c, node, [dy]) => (dy ? layerNormGrad(c, node, dy) : []),
  Conv: (c, node, [dy]) => (dy ? convGrad(c, node, dy) : []),
};
