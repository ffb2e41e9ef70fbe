import type { Attributes } from '../attributes.js';
import type { GraphBuilder, Node, Value } from '../builder.js';
import type { Dim, Shape } from '../tensor.js';
import { tensor } from '../tensor.js';

/** What a gradient rule gets: the builder, the node, and helpers that use the static shapes. */
export class GradContext {
  constructor(
    readonly g: GraphBuilder,
    private readonly requires: (name: string) => boolean,
  ) {}

  value(name: string): Value {
    return this.g.value(name);
  }

  /** Whether the node's k-th input needs a gradient (frozen weights and constants do not). */
  needs(node: Node, k: number): boolean {
    const name = node.inputs[k];
    return !!name && this.requires(name);
  }

  scalar(x: number, like: Value): Value {
    return this.g.scalar(x, like.dtype);
  }

  op(op: string, inputs: readonly (Value | null)[], attrs: Attributes = {}): Value {
    return this.g.op(op, inputs, attrs);
  }

  /** Sums a broadcast gradient back down to `target`'s shape (ONNX multidirectional broadcasting). */
  unbroadcast(grad: Value, target: Shape): Value {
    const lead = grad.shape.length - target.length;
    let out = grad;
    if (lead > 0) {
      out = this.g.op('ReduceSum', [out, this.g.ints(range(lead))], { keepdims: 0 });
    }
    const axes: number[] = [];
    target.forEach((d, k) => {
      if (d === 1 && out.shape[k] !== 1) axes.push(k);
    });
    if (axes.length) out = this.g.op('ReduceSum', [out, this.g.ints(axes)], { keepdims: 1 });
    return out;
  }

  /**
   * Reshapes to `shape`, with -1 standing for one symbolic dimension; with more, the target shape
   * is read at run time from `like` (a value of that shape).
   */
  reshape(x: Value, shape: Shape, like?: Value): Value {
    const symbolic = shape.filter((d) => typeof d !== 'number');
    if (symbolic.length > 1) {
      if (!like) throw new Error(`gradient: cannot reshape to [${shape.join(',')}] (two symbolic dims)`);
      return this.g.op('Reshape', [x, this.g.op('Shape', [like])], {}, { outputs: [{ dtype: x.dtype, shape }] });
    }
    const target = shape.map((d) => (typeof d === 'number' ? d : -1));
    const out = this.g.op('Reshape', [x, this.g.ints(target)]);
    return sameShape(out.shape, shape) ? out : retag(this.g, out, shape);
  }

  /** Expands `x` (broadcastable) to `like`'s shape; symbolic dims go through a run-time Shape. */
  expandTo(x: Value, like: Value): Value {
    if (like.shape.every((d) => typeof d === 'number')) {
      return this.g.op('Expand', [x, this.g.ints(like.shape as number[])]);
    }
    const shape = this.g.op('Shape', [like]);
    return this.g.op('Expand', [x, shape], {}, { outputs: [{ dtype: x.dtype, shape: like.shape }] });
  }

  zeros(like: Value): Value {
    if (like.shape.every((d) => typeof d === 'number')) {
      return this.g.constant(tensor(like.dtype, like.shape as number[]), 'zeros');
    }
    return this.g.op('Mul', [like, this.scalar(0, like)]);
  }

  /** Product of dims, or undefined when one is symbolic. */
  static size(shape: readonly Dim[]): number | undefined {
    let n = 1;
    for (const d of shape) {
      if (typeof d !== 'number') return undefined;
      n *= d;
    }
    return n;
  }
}

export const range = (n: number, from = 0): number[] => Array.from({ length: n }, (_, k) => k + from);

export const normAxis = (axis: number, rank: number): number => (axis < 0 ? axis + rank : axis);

function sameShape(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((d, k) => d === b[k]);
}

/** An Identity whose recorded shape names the symbolic dims of the value it mirrors. */
function retag(g: GraphBuilder, x: Value, shape: Shape): Value {
  return g.op('Identity', [x], {}, { outputs: [{ dtype: x.dtype, shape }] });
}

export type GradRule = (ctx: GradContext, node: Node, dOut: readonly (Value | undefined)[]) => (Value | undefined)[];
