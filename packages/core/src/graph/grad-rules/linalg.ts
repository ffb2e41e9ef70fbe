import { intAttr } from '../attributes.js';
import type { Value } from '../builder.js';
import { type GradContext, type GradRule, range } from './context.js';

/** Gradients of MatMul and Gemm (the backbones' and heads' linear layers). */

function swapLast(c: GradContext, x: Value): Value {
  const r = x.shape.length;
  return c.op('Transpose', [x], { perm: [...range(r - 2), r - 1, r - 2] });
}

export const LINALG_RULES: Record<string, GradRule> = {
  MatMul: (c, node, [dy]) => {
    if (!dy) return [];
    const a = c.value(node.inputs[0]!);
    const b = c.value(node.inputs[1]!);
    if (a.shape.length < 2 || b.shape.length < 2) throw new Error('gradient: MatMul with a vector operand');
    const da = c.needs(node, 0) ? c.unbroadcast(c.op('MatMul', [dy, swapLast(c, b)]), a.shape) : undefined;
    let db: Value | undefined;
    if (c.needs(node, 1)) {
      if (b.shape.length === 2 && a.shape.length > 2) {
        // A weight shared over a batch: fold the batch into rows, one [K,M]·[M,N] product.
        const k = a.shape[a.shape.length - 1]!;
        const n = dy.shape[dy.shape.length - 1]!;
        const a2 = c.op('Reshape', [a, c.g.ints([-1, k as number])]);
        const dy2 = c.op('Reshape', [dy, c.g.ints([-1, n as number])]);
        db = c.op('MatMul', [c.op('Transpose', [a2], { perm: [1, 0] }), dy2]);
      } else {
        db = c.unbroadcast(c.op('MatMul', [swapLast(c, a), dy]), b.shape);
      }
    }
    return [da, db];
  },
  Gemm: (c, node, [dy]) => {
    if (!dy) return [];
    const a = c.value(node.inputs[0]!);
    const b = c.value(node.inputs[1]!);
    const transA = intAttr(node.attrs, 'transA', 0) === 1;
    const transB = intAttr(node.attrs, 'transB', 0) === 1;
    const alphaAttr = node.attrs.alpha;
    const betaAttr = node.attrs.beta;
    const num = (v: unknown, d: number) =>
      typeof v === 'number' ? v : v && typeof v === 'object' && 'value' in v ? Number(v.value) : d;
    const alpha = num(alphaAttr, 1);
    const beta = num(betaAttr, 1);
    const t = (x: Value) => c.op('Transpose', [x], { perm: [1, 0] });
    const scale = (x: Value, s: number) => (s === 1 ? x : c.op('Mul', [x, c.scalar(s, x)]));
    const bEff = transB ? t(b) : b;
    const aEff = transA ? t(a) : a;
    let da: Value | undefined;
    let db: Value | undefined;
    if (c.needs(node, 0)) {
      const g = scale(c.op('MatMul', [dy, t(bEff)]), alpha);
      da = transA ? t(g) : g;
    }
    if (c.needs(node, 1)) {
      const g = scale(c.op('MatMul', [t(aEff), dy]), alpha);
      db = transB ? t(g) : g;
    }
    const dc =
      node.inputs[2] && c.needs(node, 2) ? c.unbroadcast(scale(dy, beta), c.value(node.inputs[2]).shape) : undefined;
    return [da, db, dc];
  },
};
