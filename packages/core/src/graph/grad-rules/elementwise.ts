import type { Value } from '../builder.js';
import type { GradRule } from './context.js';

/** Gradients of elementwise ops; binary ones sum the gradient back over broadcast axes. */

const unary =
  (fn: (c: Parameters<GradRule>[0], x: Value, y: Value, dy: Value) => Value): GradRule =>
  (c, node, [dy]) => {
    if (!dy || !c.needs(node, 0)) return [];
    return [fn(c, c.value(node.inputs[0]!), c.value(node.outputs[0]!), dy)];
  };

export const ELEMENTWISE_RULES: Record<string, GradRule> = {
  Identity: unary((_c, _x, _y, dy) => dy),
  Add: (c, node, [dy]) => {
    if (!dy) return [];
    const [a, b] = node.inputs.map((n) => c.value(n));
    return [
      c.needs(node, 0) ? c.unbroadcast(dy, a!.shape) : undefined,
      c.needs(node, 1) ? c.unbroadcast(dy, b!.shape) : undefined,
    ];
  },
  Sub: (c, node, [dy]) => {
    if (!dy) return [];
    const [a, b] = node.inputs.map((n) => c.value(n));
    return [
      c.needs(node, 0) ? c.unbroadcast(dy, a!.shape) : undefined,
      // Negated after the sum over broadcast axes: the smaller tensor.
      c.needs(node, 1) ? c.op('Neg', [c.unbroadcast(dy, b!.shape)]) : undefined,
    ];
  },
  Mul: (c, node, [dy]) => {
    if (!dy) return [];
    const [a, b] = node.inputs.map((n) => c.value(n));
    return [
      c.needs(node, 0) ? c.unbroadcast(c.op('Mul', [dy, b!]), a!.shape) : undefined,
      c.needs(node, 1) ? c.unbroadcast(c.op('Mul', [dy, a!]), b!.shape) : undefined,
    ];
  },
  Div: (c, node, [dy]) => {
    if (!dy) return [];
    const [a, b] = node.inputs.map((n) => c.value(n));
    const y = c.value(node.outputs[0]!);
    const da = c.needs(node, 0) || c.needs(node, 1) ? c.op('Div', [dy, b!]) : undefined;
    return [
      c.needs(node, 0) ? c.unbroadcast(da!, a!.shape) : undefined,
      // d(a/b)/db = −(a/b)/b
      c.needs(node, 1) ? c.op('Neg', [c.unbroadcast(c.op('Mul', [da!, y]), b!.shape)]) : undefined,
    ];
  },
  Sum: (c, node, [dy]) =>
    dy ? node.inputs.map((n, k) => (c.needs(node, k) ? c.unbroadcast(dy, c.value(n).shape) : undefined)) : [],
  Neg: unary((c, _x, _y, dy) => c.op('Neg', [dy])),
  Exp: unary((c, _x, y, dy) => c.op('Mul', [dy, y])),
  Log: unary((c, x, _y, dy) => c.op('Div', [dy, x])),
  Sqrt: unary((c, _x, y, dy) => c.op('Div', [c.op('Mul', [dy, c.scalar(0.5, dy)]), y])),
  Reciprocal: unary((c, _x, y, dy) => c.op('Neg', [c.op('Mul', [dy, c.op('Mul', [y, y])])])),
  Sigmoid: unary((c, _x, y, dy) => c.op('Mul', [dy, c.op('Mul', [y, c.op('Sub', [c.scalar(1, y), y])])])),
  Tanh: unary((c, _x, y, dy) => c.op('Mul', [dy, c.op('Sub', [c.scalar(1, y), c.op('Mul', [y, y])])])),
  Softplus: unary((c, x, _y, dy) => c.op('Mul', [dy, c.op('Sigmoid', [x])])),
  Relu: unary((c, x, _y, dy) => c.op('Where', [c.op('Greater', [x, c.scalar(0, x)]), dy, c.scalar(0, dy)])),
  // Passes the gradient where x lies strictly inside [min, max] (ReLU6 is Clip(0, 6)); bounds are constants.
  Clip: (c, node, [dy]) => {
    if (!dy || !c.needs(node, 0)) return [];
    if (c.needs(node, 1) || c.needs(node, 2)) throw new Error('gradient: Clip with trainable bounds is not supported');
    const x = c.value(node.inputs[0]!);
    const zero = c.scalar(0, dy);
    let g = dy;
    if (node.inputs[1]) g = c.op('Where', [c.op('Greater', [x, c.value(node.inputs[1])]), g, zero]);
    if (node.inputs[2]) g = c.op('Where', [c.op('Less', [x, c.value(node.inputs[2])]), g, zero]);
    return [g];
  },
  // erf′(x) = 2/√π · e^{−x²} = e^{ln(2/√π) − x²}: the negation and the scaling become one Sub, a pass
  // fewer over what is, in a ViT's GELU, the largest activation of every block.
  Erf: unary((c, x, _y, dy) =>
    c.op('Mul', [dy, c.op('Exp', [c.op('Sub', [c.scalar(Math.log(2 / Math.sqrt(Math.PI)), x), c.op('Mul', [x, x])])])]),
  ),
  Cast: (c, node, [dy]) => {
    if (!dy || !c.needs(node, 0)) return [];
    const x = c.value(node.inputs[0]!);
    return [x.dtype === dy.dtype ? dy : c.op('Cast', [dy], { to: ONNX_CODE[x.dtype] ?? 1 })];
  },
  Pow: (c, node, [dy]) => {
    if (!dy) return [];
    if (c.needs(node, 1)) throw new Error('gradient: Pow with a trainable exponent is not supported');
    const x = c.value(node.inputs[0]!);
    const p = c.value(node.inputs[1]!);
    const pm1 = c.op('Pow', [x, c.op('Sub', [p, c.scalar(1, p)])]);
    return [c.needs(node, 0) ? c.unbroadcast(c.op('Mul', [dy, c.op('Mul', [p, pm1])]), x.shape) : undefined];
  },
  Where: (c, node, [dy]) => {
    if (!dy) return [];
    const [cond, a, b] = node.inputs.map((n) => c.value(n));
    const zero = c.scalar(0, dy);
    return [
      undefined,
      c.needs(node, 1) ? c.unbroadcast(c.op('Where', [cond!, dy, zero]), a!.shape) : undefined,
      c.needs(node, 2) ? c.unbroadcast(c.op('Where', [cond!, zero, dy]), b!.shape) : undefined,
    ];
  },
};

const ONNX_CODE: Record<string, number> = { float32: 1, float64: 11, float16: 10 };
