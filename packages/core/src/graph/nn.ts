import { f } from './attributes.js';
import type { GraphBuilder, Value } from './builder.js';

/**
 * Layers written once in the graph IR and shared by every network (backbones, plugins).
 * Weights follow PyTorch's nn.Linear layout ([out, in]) so Hugging Face tensors load as they are.
 */

/** y = x·Wᵀ + b with W [out,in]; the transpose is folded into a constant at build time. */
export function linear(g: GraphBuilder, x: Value, weightT: Value, bias?: Value): Value {
  const y = g.op('MatMul', [x, weightT]);
  return bias ? g.op('Add', [y, bias]) : y;
}

export function layerNorm(g: GraphBuilder, x: Value, scale: Value, bias: Value, epsilon: number): Value {
  return g.op('LayerNormalization', [x, scale, bias], { axis: -1, epsilon: f(epsilon) });
}

/** Exact GELU, 0.5·x·(1+erf(x/√2)), in the form ONNX Runtime fuses into one kernel. */
export function gelu(g: GraphBuilder, x: Value): Value {
  const e = g.op('Erf', [g.op('Div', [x, g.scalar(Math.SQRT2, x.dtype)])]);
  const one = g.op('Add', [e, g.scalar(1, x.dtype)]);
  return g.op('Mul', [g.op('Mul', [x, one]), g.scalar(0.5, x.dtype)]);
}

export function softmax(g: GraphBuilder, x: Value, axis = -1): Value {
  return g.op('Softmax', [x], { axis });
}

export function reshape(g: GraphBuilder, x: Value, shape: readonly number[]): Value {
  return g.op('Reshape', [x, g.ints(shape)]);
}

export function transpose(g: GraphBuilder, x: Value, perm: readonly number[]): Value {
  return g.op('Transpose', [x], { perm: [...perm] });
}

export function sliceAxis(g: GraphBuilder, x: Value, axis: number, start: number, end: number): Value {
  return g.op('Slice', [x, g.ints([start]), g.ints([end]), g.ints([axis])]);
}
