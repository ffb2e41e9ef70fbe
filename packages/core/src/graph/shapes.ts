import { type Attributes, intAttr, intsAttr } from './attributes.js';
import type { Dim, DType, Shape, Tensor } from './tensor.js';

/** What shape inference sees of one input: its type, shape, and value when it is a constant. */
export interface InputInfo {
  dtype: DType;
  shape: Shape;
  value?: Tensor;
}

export interface OutputInfo {
  dtype: DType;
  shape: Shape;
}

type Rule = (inputs: InputInfo[], attrs: Attributes) => OutputInfo[];

export class ShapeError extends Error {}

const normAxis = (axis: number, rank: number) => (axis < 0 ? axis + rank : axis);

export function broadcast(a: Shape, b: Shape): Dim[] {
  const rank = Math.max(a.length, b.length);
  const out: Dim[] = [];
  for (let i = 0; i < rank; i++) {
    const da = a[a.length - rank + i] ?? 1;
    const db = b[b.length - rank + i] ?? 1;
    if (da === db || db === 1) out.push(da);
    else if (da === 1) out.push(db);
    else if (typeof da === 'string') out.push(db);
    else if (typeof db === 'string') out.push(da);
    else throw new ShapeError(`cannot broadcast [${a.join(',')}] with [${b.join(',')}]`);
  }
  return out;
}

function intValues(info: InputInfo | undefined, what: string): number[] {
  if (!info?.value) throw new ShapeError(`${what} must be a constant known when the graph is built`);
  return Array.from(info.value.data as ArrayLike<number | bigint>, Number);
}

const same: Rule = (i) => [{ dtype: i[0]!.dtype, shape: i[0]!.shape }];
const elementwise: Rule = (i) => [
  { dtype: i[0]!.dtype, shape: i.slice(1).reduce((s, x) => broadcast(s, x.shape), [...i[0]!.shape] as Dim[]) },
];
const compare: Rule = (i) => [{ dtype: 'bool', shape: broadcast(i[0]!.shape, i[1]!.shape) }];

function reduce(i: InputInfo[], attrs: Attributes, axesFromInput: boolean): OutputInfo[] {
  const x = i[0]!;
  const rank = x.shape.length;
  const keep = intAttr(attrs, 'keepdims', 1) === 1;
  const axes = axesFromInput ? (i[1] ? intValues(i[1], 'reduce axes') : undefined) : intsAttr(attrs, 'axes');
  const set = new Set((axes ?? x.shape.map((_, k) => k)).map((a) => normAxis(a, rank)));
  const shape: Dim[] = [];
  x.shape.forEach((d, k) => {
    if (!set.has(k)) shape.push(d);
    else if (keep) shape.push(1);
  });
  return [{ dtype: x.dtype, shape }];
}

function matmulShape(a: Shape, b: Shape): Dim[] {
  const a2 = a.length === 1 ? [1, a[0]!] : a;
  const b2 = b.length === 1 ? [b[0]!, 1] : b;
  const k1 = a2[a2.length - 1]!;
  const k2 = b2[b2.length - 2]!;
  if (typeof k1 === 'number' && typeof k2 === 'number' && k1 !== k2) {
    throw new ShapeError(`MatMul inner dimensions differ: [${a.join(',')}] x [${b.join(',')}]`);
  }
  const batch = broadcast(a2.slice(0, -2), b2.slice(0, -2));
  const out: Dim[] = [...batch, a2[a2.length - 2]!, b2[b2.length - 1]!];
  if (a.length === 1) out.splice(out.length - 2, 1);
  if (b.length === 1) out.pop();
  return out;
}

function convOut(size: Dim, k: number, stride: number, padBegin: number, padEnd: number, dilation: number): Dim {
  if (typeof size === 'string') return size;
  return Math.floor((size + padBegin + padEnd - dilation * (k - 1) - 1) / stride) + 1;
}

function poolLike(i: InputInfo[], attrs: Attributes, channels: Dim, kernel: readonly number[]): OutputInfo[] {
  const x = i[0]!;
  const spatial = x.shape.length - 2;
  const strides = intsAttr(attrs, 'strides') ?? new Array(spatial).fill(1);
  const dil = intsAttr(attrs, 'dilations') ?? new Array(spatial).fill(1);
  const pads = intsAttr(attrs, 'pads') ?? new Array(spatial * 2).fill(0);
  const autoPad = attrs.auto_pad;
  const shape: Dim[] = [x.shape[0]!, channels];
  for (let s = 0; s < spatial; s++) {
    const size = x.shape[2 + s]!;
    if (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') {
      shape.push(typeof size === 'number' ? Math.ceil(size / strides[s]!) : size);
    } else {
      shape.push(convOut(size, kernel[s]!, strides[s]!, pads[s]!, pads[s + spatial]!, dil[s]!));
    }
  }
  return [{ dtype: x.dtype, shape }];
}

function reshape(i: InputInfo[]): OutputInfo[] {
  const x = i[0]!;
  const target = intValues(i[1], 'Reshape shape');
  const out: Dim[] = target.map((d, k) => (d === 0 ? x.shape[k]! : d));
  const minus = out.indexOf(-1);
  if (minus >= 0) {
    const known = out.filter((_, k) => k !== minus);
    const total = x.shape.every((d) => typeof d === 'number') ? (x.shape as number[]).reduce((a, b) => a * b, 1) : null;
    const rest = known.every((d) => typeof d === 'number') ? (known as number[]).reduce((a, b) => a * b, 1) : null;
    if (total !== null && rest !== null) out[minus] = total / rest;
    else {
      // A symbolic batch carried through: the -1 absorbs the one symbolic input dim.
      const sym = x.shape.find((d) => typeof d === 'string');
      out[minus] = sym ?? -1;
    }
  }
  return [{ dtype: x.dtype, shape: out }];
}

function slice(i: InputInfo[]): OutputInfo[] {
  const x = i[0]!;
  const starts = intValues(i[1], 'Slice starts');
  const ends = intValues(i[2], 'Slice ends');
  const axes = i[3] ? intValues(i[3], 'Slice axes') : starts.map((_, k) => k);
  const steps = i[4] ? intValues(i[4], 'Slice steps') : starts.map(() => 1);
  const shape = [...x.shape] as Dim[];
  axes.forEach((a0, k) => {
    const a = normAxis(a0, x.shape.length);
    const size = x.shape[a]!;
    if (typeof size === 'string') return;
    const step = steps[k]!;
    const clamp = (v: number, lo: number, hi: number) => Math.min(Math.max(v, lo), hi);
    let s = starts[k]!;
    let e = ends[k]!;
    s = s < 0 ? s + size : s;
    e = e < 0 ? e + size : e;
    if (step > 0) {
      s = clamp(s, 0, size);
      e = clamp(e, 0, size);
      shape[a] = Math.max(0, Math.ceil((e - s) / step));
    } else {
      s = clamp(s, -1, size - 1);
      e = clamp(e, -1, size - 1);
      shape[a] = Math.max(0, Math.ceil((s - e) / -step));
    }
  });
  return [{ dtype: x.dtype, shape }];
}

const RULES: Record<string, Rule> = {
  Identity: same,
  Neg: same,
  Abs: same,
  Sign: same,
  Exp: same,
  Log: same,
  Sqrt: same,
  Reciprocal: same,
  Erf: same,
  Tanh: same,
  Sigmoid: same,
  Relu: same,
  Softplus: same,
  Floor: same,
  Ceil: same,
  Round: same,
  Sin: same,
  Cos: same,
  Softmax: same,
  LogSoftmax: same,
  Dropout: same,
  Clip: same,
  LeakyRelu: same,
  HardSigmoid: same,
  Add: elementwise,
  Sub: elementwise,
  Mul: elementwise,
  Div: elementwise,
  Mod: elementwise,
  Pow: elementwise,
  Max: elementwise,
  Min: elementwise,
  Sum: elementwise,
  Mean: elementwise,
  Equal: compare,
  Less: compare,
  Greater: compare,
  Not: (i) => [{ dtype: 'bool', shape: i[0]!.shape }],
  Where: (i) => [{ dtype: i[1]!.dtype, shape: broadcast(broadcast(i[0]!.shape, i[1]!.shape), i[2]!.shape) }],
  Cast: (i, a) => [{ dtype: onnxDTypeName(intAttr(a, 'to', 1)), shape: i[0]!.shape }],
  MatMul: (i) => [{ dtype: i[0]!.dtype, shape: matmulShape(i[0]!.shape, i[1]!.shape) }],
  MatMulInteger: (i) => [{ dtype: 'int32', shape: matmulShape(i[0]!.shape, i[1]!.shape) }],
  DynamicQuantizeLinear: (i) => [
    { dtype: 'uint8', shape: i[0]!.shape },
    { dtype: 'float32', shape: [] },
    { dtype: 'uint8', shape: [] },
  ],
  Gemm: (i, a) => {
    const [ar, ac] = intAttr(a, 'transA', 0) ? [i[0]!.shape[1]!, i[0]!.shape[0]!] : [i[0]!.shape[0]!, i[0]!.shape[1]!];
    const bc = intAttr(a, 'transB', 0) ? i[1]!.shape[0]! : i[1]!.shape[1]!;
    void ac;
    return [{ dtype: i[0]!.dtype, shape: [ar, bc] }];
  },
  Transpose: (i, a) => {
    const x = i[0]!;
    const perm = intsAttr(a, 'perm') ?? x.shape.map((_, k) => x.shape.length - 1 - k);
    return [{ dtype: x.dtype, shape: perm.map((p) => x.shape[p]!) }];
  },
  Reshape: reshape,
  Flatten: (i, a) => {
    const x = i[0]!;
    const axis = normAxis(intAttr(a, 'axis', 1), x.shape.length);
    const prod = (s: Shape) =>
      s.every((d) => typeof d === 'number') ? (s as number[]).reduce((p, q) => p * q, 1) : 'F';
    return [{ dtype: x.dtype, shape: [prod(x.shape.slice(0, axis)), prod(x.shape.slice(axis))] }];
  },
  Unsqueeze: (i) => {
    const x = i[0]!;
    const rank = x.shape.length + intValues(i[1], 'Unsqueeze axes').length;
    const axes = new Set(intValues(i[1], 'Unsqueeze axes').map((a) => normAxis(a, rank)));
    const out: Dim[] = [];
    let k = 0;
    for (let d = 0; d < rank; d++) out.push(axes.has(d) ? 1 : x.shape[k++]!);
    return [{ dtype: x.dtype, shape: out }];
  },
  Squeeze: (i) => {
    const x = i[0]!;
    const axes = i[1]
      ? new Set(intValues(i[1], 'Squeeze axes').map((a) => normAxis(a, x.shape.length)))
      : new Set(x.shape.flatMap((d, k) => (d === 1 ? [k] : [])));
    return [{ dtype: x.dtype, shape: x.shape.filter((_, k) => !axes.has(k)) }];
  },
  Concat: (i, a) => {
    const x = i[0]!;
    const axis = normAxis(intAttr(a, 'axis', 0), x.shape.length);
    const shape = [...x.shape] as Dim[];
    shape[axis] = i.reduce<Dim>((s, v) => {
      const d = v.shape[axis]!;
      return typeof s === 'number' && typeof d === 'number' ? s + d : typeof s === 'string' ? s : d;
    }, 0);
    return [{ dtype: x.dtype, shape }];
  },
  Split: (i, a) => {
    const x = i[0]!;
    const axis = normAxis(intAttr(a, 'axis', 0), x.shape.length);
    const sizes = i[1] ? intValues(i[1], 'Split sizes') : undefined;
    const n = sizes?.length ?? intAttr(a, 'num_outputs', 0);
    if (!n) throw new ShapeError('Split needs constant sizes or num_outputs');
    const total = x.shape[axis]!;
    return Array.from({ length: n }, (_, k) => {
      const shape = [...x.shape] as Dim[];
      shape[axis] = sizes ? sizes[k]! : typeof total === 'number' ? total / n : total;
      return { dtype: x.dtype, shape };
    });
  },
  Slice: slice,
  Gather: (i, a) => {
    const x = i[0]!;
    const axis = normAxis(intAttr(a, 'axis', 0), x.shape.length);
    return [{ dtype: x.dtype, shape: [...x.shape.slice(0, axis), ...i[1]!.shape, ...x.shape.slice(axis + 1)] }];
  },
  Expand: (i) => [{ dtype: i[0]!.dtype, shape: broadcast(i[0]!.shape, intValues(i[1], 'Expand shape')) }],
  Tile: (i) => {
    const reps = intValues(i[1], 'Tile repeats');
    return [{ dtype: i[0]!.dtype, shape: i[0]!.shape.map((d, k) => (typeof d === 'number' ? d * reps[k]! : d)) }];
  },
  Shape: (i) => [{ dtype: 'int64', shape: [i[0]!.shape.length] }],
  ReduceMean: (i, a) => reduce(i, a, false),
  ReduceMax: (i, a) => reduce(i, a, false),
  ReduceMin: (i, a) => reduce(i, a, false),
  ReduceL2: (i, a) => reduce(i, a, false),
  ReduceSumSquare: (i, a) => reduce(i, a, false),
  ReduceLogSumExp: (i, a) => reduce(i, a, false),
  ReduceSum: (i, a) => reduce(i, a, true),
  ArgMax: (i, a) => [
    {
      dtype: 'int64',
      shape: reduce([i[0]!], { keepdims: a.keepdims ?? 1, axes: [intAttr(a, 'axis', 0)] }, false)[0]!.shape,
    },
  ],
  LayerNormalization: (i, a) => {
    const x = i[0]!;
    const axis = normAxis(intAttr(a, 'axis', -1), x.shape.length);
    const stat = x.shape.map((d, k) => (k < axis ? d : 1));
    return [
      { dtype: x.dtype, shape: x.shape },
      { dtype: 'float32', shape: stat },
      { dtype: 'float32', shape: stat },
    ];
  },
  Conv: (i, a) => {
    const w = i[1]!;
    const kernel = intsAttr(a, 'kernel_shape') ?? (w.shape.slice(2) as number[]);
    return poolLike(i, a, w.shape[0]!, kernel);
  },
  // uint8 × uint8 → exact int32 accumulators (the integer-arithmetic CNN path).
  ConvInteger: (i, a) => {
    const w = i[1]!;
    const kernel = intsAttr(a, 'kernel_shape') ?? (w.shape.slice(2) as number[]);
    return poolLike(i, a, w.shape[0]!, kernel).map((o) => ({ ...o, dtype: 'int32' }));
  },
  // float → codes of the zero point's type: saturate(round(x / scale) + zero point).
  QuantizeLinear: (i) => [{ dtype: i[2]?.dtype ?? 'uint8', shape: i[0]!.shape }],
  // uint8 codes in, uint8 codes out (ONNX Runtime's quantised convolution, float requantisation).
  QLinearConv: (i, a) => {
    const w = i[3]!;
    const kernel = intsAttr(a, 'kernel_shape') ?? (w.shape.slice(2) as number[]);
    return poolLike(i, a, w.shape[0]!, kernel).map((o) => ({ ...o, dtype: i[0]!.dtype }));
  },
  ConvTranspose: (i, a) => {
    const x = i[0]!;
    const w = i[1]!;
    const group = intAttr(a, 'group', 1);
    const spatial = x.shape.length - 2;
    const kernel = intsAttr(a, 'kernel_shape') ?? (w.shape.slice(2) as number[]);
    const strides = intsAttr(a, 'strides') ?? new Array(spatial).fill(1);
    const pads = intsAttr(a, 'pads') ?? new Array(spatial * 2).fill(0);
    const outPad = intsAttr(a, 'output_padding') ?? new Array(spatial).fill(0);
    const shape: Dim[] = [x.shape[0]!, typeof w.shape[1] === 'number' ? w.shape[1] * group : w.shape[1]!];
    for (let s = 0; s < spatial; s++) {
      const n = x.shape[2 + s]!;
      shape.push(
        typeof n === 'number' ? strides[s]! * (n - 1) + outPad[s]! + kernel[s]! - pads[s]! - pads[s + spatial]! : n,
      );
    }
    return [{ dtype: x.dtype, shape }];
  },
  AveragePool: (i, a) => poolLike(i, a, i[0]!.shape[1]!, intsAttr(a, 'kernel_shape') ?? []),
  MaxPool: (i, a) => poolLike(i, a, i[0]!.shape[1]!, intsAttr(a, 'kernel_shape') ?? []),
  GlobalAveragePool: (i) => [{ dtype: i[0]!.dtype, shape: i[0]!.shape.map((d, k) => (k < 2 ? d : 1)) }],
  GlobalMaxPool: (i) => [{ dtype: i[0]!.dtype, shape: i[0]!.shape.map((d, k) => (k < 2 ? d : 1)) }],
  Pad: (i) => {
    const pads = intValues(i[1], 'Pad pads');
    const r = i[0]!.shape.length;
    return [
      {
        dtype: i[0]!.dtype,
        shape: i[0]!.shape.map((d, k) => (typeof d === 'number' ? d + pads[k]! + pads[k + r]! : d)),
      },
    ];
  },
  ConstantOfShape: (i, a) => {
    const v = a.value;
    const dtype = v && typeof v === 'object' && 'kind' in v && v.kind === 'tensor' ? v.value.dtype : 'float32';
    return [{ dtype, shape: intValues(i[0], 'ConstantOfShape shape') }];
  },
};

/** Infers output types and shapes; ops without a rule need the caller to state them. */
export function inferOutputs(op: string, inputs: InputInfo[], attrs: Attributes): OutputInfo[] | undefined {
  const rule = RULES[op];
  return rule ? rule(inputs, attrs) : undefined;
}

const ONNX_DTYPES: Record<number, DType> = {
  1: 'float32',
  2: 'uint8',
  3: 'int8',
  6: 'int32',
  7: 'int64',
  9: 'bool',
  10: 'float16',
  11: 'float64',
};

export function onnxDTypeName(code: number): DType {
  const d = ONNX_DTYPES[code];
  if (!d) throw new ShapeError(`ONNX data type ${code} is not supported`);
  return d;
}

export function onnxDTypeCode(dtype: DType): number {
  for (const [code, name] of Object.entries(ONNX_DTYPES)) if (name === dtype) return Number(code);
  throw new ShapeError(`dtype ${dtype} has no ONNX code`);
}
