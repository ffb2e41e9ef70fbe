import { intAttr, intsAttr } from '../attributes.js';
import type { Node, Value } from '../builder.js';
import { tensor } from '../tensor.js';
import { type GradContext, type GradRule, normAxis, range } from './context.js';

/** Gradients of layout ops and reductions: all need the static shapes the builder recorded. */

function constInts(c: GradContext, name: string | undefined): number[] | undefined {
  if (!name) return undefined;
  const t = c.g.constantValue(c.value(name));
  return t ? Array.from(t.data as ArrayLike<number | bigint>, Number) : undefined;
}

const reshapeBack: GradRule = (c, node, [dy]) => {
  if (!dy || !c.needs(node, 0)) return [];
  const x = c.value(node.inputs[0]!);
  return [c.reshape(dy, x.shape, x)];
};

function reduceGrad(c: GradContext, node: Node, dy: Value, axes: number[] | undefined, mean: boolean): Value {
  const x = c.value(node.inputs[0]!);
  const rank = x.shape.length;
  const all = (axes ?? range(rank)).map((a) => normAxis(a, rank));
  let g = dy;
  if (intAttr(node.attrs, 'keepdims', 1) === 0) g = c.op('Unsqueeze', [g, c.g.ints(all)]);
  if (mean) {
    const count = all.reduce<number | undefined>((p, a) => {
      const d = x.shape[a];
      return p !== undefined && typeof d === 'number' ? p * d : undefined;
    }, 1);
    if (count !== undefined) g = c.op('Mul', [g, c.scalar(1 / count, g)]);
    else {
      // A symbolic reduced axis: count the elements at run time.
      const ones = c.op('Add', [c.op('Mul', [x, c.scalar(0, x)]), c.scalar(1, x)]);
      g = c.op('Div', [g, c.op('ReduceSum', [ones, c.g.ints(all)], { keepdims: 1 })]);
    }
  }
  return c.expandTo(g, x);
}

export const SHAPE_RULES: Record<string, GradRule> = {
  Reshape: reshapeBack,
  Flatten: reshapeBack,
  Squeeze: reshapeBack,
  Unsqueeze: reshapeBack,
  Transpose: (c, node, [dy]) => {
    if (!dy || !c.needs(node, 0)) return [];
    const rank = c.value(node.inputs[0]!).shape.length;
    const perm = intsAttr(node.attrs, 'perm') ?? range(rank).reverse();
    const inverse = new Array<number>(rank);
    perm.forEach((p, k) => {
      inverse[p] = k;
    });
    return [c.op('Transpose', [dy], { perm: inverse })];
  },
  ReduceSum: (c, node, [dy]) =>
    dy && c.needs(node, 0) ? [reduceGrad(c, node, dy, constInts(c, node.inputs[1]), false)] : [],
  ReduceMean: (c, node, [dy]) =>
    dy && c.needs(node, 0) ? [reduceGrad(c, node, dy, intsAttr(node.attrs, 'axes')?.slice(), true)] : [],
  // The mean over every spatial axis, dims kept (a CNN's pooled embedding).
  GlobalAveragePool: (c, node, [dy]) =>
    dy && c.needs(node, 0) ? [reduceGrad(c, node, dy, range(c.value(node.inputs[0]!).shape.length - 2, 2), true)] : [],
  Expand: (c, node, [dy]) => (dy && c.needs(node, 0) ? [c.unbroadcast(dy, c.value(node.inputs[0]!).shape)] : []),
  Concat: (c, node, [dy]) => {
    if (!dy) return [];
    const rank = dy.shape.length;
    const axis = normAxis(intAttr(node.attrs, 'axis', 0), rank);
    let offset = 0;
    return node.inputs.map((name, k) => {
      const size = c.value(name).shape[axis];
      if (typeof size !== 'number') throw new Error('gradient: Concat along a symbolic axis');
      const start = offset;
      offset += size;
      if (!c.needs(node, k)) return undefined;
      return c.op('Slice', [dy, c.g.ints([start]), c.g.ints([start + size]), c.g.ints([axis])]);
    });
  },
  Split: (c, node, dOut) => {
    if (!c.needs(node, 0) || dOut.every((d) => !d)) return [];
    const x = c.value(node.inputs[0]!);
    const axis = normAxis(intAttr(node.attrs, 'axis', 0), x.shape.length);
    const parts = node.outputs.map((name, k) => dOut[k] ?? c.zeros(c.value(name)));
    return [c.op('Concat', parts, { axis })];
  },
  Slice: (c, node, [dy]) => {
    if (!dy || !c.needs(node, 0)) return [];
    const x = c.value(node.inputs[0]!);
    const rank = x.shape.length;
    const starts = constInts(c, node.inputs[1]) ?? [];
    const ends = constInts(c, node.inputs[2]) ?? [];
    const axes = constInts(c, node.inputs[3]) ?? starts.map((_, k) => k);
    const steps = constInts(c, node.inputs[4]) ?? starts.map(() => 1);
    const pads = new Array<number>(2 * rank).fill(0);
    axes.forEach((a0, k) => {
      const a = normAxis(a0, rank);
      const size = x.shape[a];
      if (typeof size !== 'number' || steps[k] !== 1) throw new Error('gradient: Slice needs a static axis and step 1');
      const clamp = (v: number) => Math.min(Math.max(v < 0 ? v + size : v, 0), size);
      const s = clamp(starts[k]!);
      const e = Math.max(clamp(ends[k]!), s);
      pads[a] = s;
      pads[a + rank] = size - e;
    });
    return [c.op('Pad', [dy, c.g.ints(pads)])];
  },
  /**
   * Constant-mode Pad with constant pads: the gradient is dy with the padding sliced off (and a
   * cropped region, from negative pads, padded back with zeros). Ends are taken relative to the
   * end of dy, so symbolic dims (the batch) need no run-time shape.
   */
  Pad: (c, node, [dy]) => {
    if (!dy || !c.needs(node, 0)) return [];
    const mode = node.attrs.mode ?? 'constant';
    if (mode !== 'constant') throw new Error(`gradient: Pad mode "${String(mode)}" (only constant)`);
    if (node.inputs[3]) throw new Error('gradient: Pad with an axes input');
    const pads = constInts(c, node.inputs[1]);
    if (!pads) throw new Error('gradient: Pad needs constant pads');
    const rank = pads.length / 2;
    const starts: number[] = [];
    const ends: number[] = [];
    const axes: number[] = [];
    const crop = new Array<number>(2 * rank).fill(0);
    for (let a = 0; a < rank; a++) {
      const before = pads[a]!;
      const after = pads[a + rank]!;
      if (before > 0 || after > 0) {
        axes.push(a);
        starts.push(Math.max(before, 0));
        ends.push(after > 0 ? -after : Number.MAX_SAFE_INTEGER);
      }
      crop[a] = Math.max(-before, 0);
      crop[a + rank] = Math.max(-after, 0);
    }
    const sliced = axes.length ? c.op('Slice', [dy, c.g.ints(starts), c.g.ints(ends), c.g.ints(axes)]) : dy;
    return [crop.some((v) => v > 0) ? c.op('Pad', [sliced, c.g.ints(crop)]) : sliced];
  },
  /**
   * Gather with constant indices: the gradient scatters through a one-hot matrix product. One
   * symbolic dim before or after the axis becomes -1 in the reshapes (e.g. picking q/k/v from
   * [3,N,H,T,hd] along axis 0).
   */
  Gather: (c, node, [dy]) => {
    if (!dy || !c.needs(node, 0)) return [];
    const x = c.value(node.inputs[0]!);
    const rank = x.shape.length;
    const axis = normAxis(intAttr(node.attrs, 'axis', 0), rank);
    const indices = constInts(c, node.inputs[1]);
    const size = x.shape[axis];
    if (!indices || typeof size !== 'number')
      throw new Error('gradient: Gather needs constant indices and a static axis');
    const oneHotT = new Float64Array(size * indices.length);
    indices.forEach((i, k) => {
      oneHotT[normAxis(i, size) * indices.length + k] = 1;
    });
    const m = c.g.constant(
      tensor(dy.dtype, [size, indices.length], dy.dtype === 'float64' ? oneHotT : Float32Array.from(oneHotT)),
      'onehot',
    );
    const pre = x.shape.slice(0, axis);
    const post = x.shape.slice(axis + 1);
    const flat = (dims: typeof pre) =>
      dims.every((d) => typeof d === 'number') ? dims.reduce<number>((p, d) => p * (d as number), 1) : -1;
    const preDim = flat(pre);
    const postDim = flat(post);
    if (preDim === -1 && postDim === -1)
      throw new Error('gradient: Gather with symbolic dims both before and after the axis');
    const dy3 = c.op('Reshape', [dy, c.g.ints([preDim, indices.length, postDim])]);
    const dx3 = c.op('MatMul', [m, dy3]);
    return [c.reshape(dx3, x.shape, x)];
  },
};
