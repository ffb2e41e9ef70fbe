import type { Graph, Node, Param, Value } from './builder.js';
import { type Tensor, tensor } from './tensor.js';

/**
 * Dynamic int8 quantisation of a frozen graph's weight MatMuls, as a graph-to-graph pass.
 * Every MatMul whose second input is a frozen float32 parameter of rank 2 becomes
 *   DynamicQuantizeLinear(x) → MatMulInteger(x_q, W_q, x_zero_point) → Cast → Mul(x_scale · w_scale)
 * with W_q int8 symmetric per output column. ONNX Runtime fuses this chain into one
 * DynamicQuantizeMatMul kernel (DEPENDENCIES.md §2: 2.0–2.6× faster than fp32 on ViT-S).
 * MatMuls between two activations (attention) stay float unless asked (`activationMatMuls`: slower
 * on CPU, measured), trainable weights (LoRA) and convolutions always.
 */

export type Precision = 'fp32' | 'int8';

/** What was done to a graph's arithmetic; outputs computed with it carry this in provenance. */
export interface PrecisionProvenance {
  precision: Precision;
  /** How, in words (empty for fp32). */
  method: string;
  /** MatMuls turned into integer MatMuls (the weight ones; with `activationMatMuls`, attention's too). */
  quantizedMatMuls: number;
  /** MatMuls left in float (activation × activation, trainable or non-2-D weights). */
  floatMatMuls: number;
  /** The parameters now stored as int8. */
  weights: string[];
}

export interface QuantizeOptions {
  /**
   * 7-bit weights ([-63, 63]) for CPUs without VNNI, where the u8×s8 multiply-add can saturate
   * int16 (ONNX Runtime's `reduce_range`). Off by default: VNNI and AMX CPUs need no margin.
   */
  reduceRange?: boolean;
  /** Restrict the pass to some MatMuls (default: all eligible). */
  include?: (node: Node, weight: Param) => boolean;
  /**
   * Also the MatMuls between two activations (attention's q·kᵀ and p·v), both sides uint8 per
   * tensor. Off by default: on ViT-S/14 at 2 threads it did not beat fp32 attention (two recorded runs
   * 2.5 % and 7 % slower, one unrecorded 7 % faster: within this VM's drift; the other side changes
   * every run, so ONNX Runtime packs it per call; bench/src/vit-int8.ts measures it).
   */
  activationMatMuls?: boolean;
}

export const INT8_METHOD =
  'dynamic int8: DynamicQuantizeLinear (uint8 activations, per tensor) → MatMulInteger (int8 weights, symmetric per output column) → Cast → Mul';

/** Selects a graph's precision: 'fp32' returns it unchanged, 'int8' applies `quantizeDynamicInt8`. */
export function withPrecision(
  graph: Graph,
  precision: Precision,
  options: QuantizeOptions = {},
): { graph: Graph; provenance: PrecisionProvenance } {
  if (precision === 'int8') return quantizeDynamicInt8(graph, options);
  const matmuls = graph.nodes.filter((n) => n.op === 'MatMul').length;
  return {
    graph,
    provenance: { precision: 'fp32', method: '', quantizedMatMuls: 0, floatMatMuls: matmuls, weights: [] },
  };
}

/** Per-column symmetric int8: scale_n = max_k |W[k,n]| / qmax, W_q = round(W / scale). */
export function quantizeColumns(w: Tensor, qmax = 127): { q: Tensor; scale: Tensor } {
  const [k, n] = w.dims as [number, number];
  const data = w.data as Float32Array;
  const scale = new Float32Array(n);
  for (let c = 0; c < n; c++) {
    let m = 0;
    for (let r = 0; r < k; r++) m = Math.max(m, Math.abs(data[r * n + c]!));
    scale[c] = m > 0 ? m / qmax : 1;
  }
  const q = new Int8Array(k * n);
  for (let r = 0; r < k; r++) {
    for (let c = 0; c < n; c++) {
      q[r * n + c] = Math.max(-qmax, Math.min(qmax, Math.round(data[r * n + c]! / scale[c]!)));
    }
  }
  return { q: tensor('int8', [k, n], q), scale: tensor('float32', [n], scale) };
}

/** The weight of a MatMul by a frozen float32 rank-2 parameter: what a weight-quantising pass may rewrite. */
export function frozenMatMulWeight(graph: Graph, node: Node): Param | undefined {
  const weight = node.op === 'MatMul' ? graph.params.get(node.inputs[1] ?? '') : undefined;
  const frozen2d = weight?.role === 'frozen' && weight.value.dtype === 'float32' && weight.value.dims.length === 2;
  return frozen2d ? weight : undefined;
}

/**
 * Drops the rewritten float weights that no node (and no graph output) reads any more: kept, they
 * would double the model's size.
 */
export function dropUnreadWeights(
  graph: Graph,
  nodes: readonly Node[],
  params: Map<string, Param>,
  values: Map<string, Value>,
  rewritten: Iterable<string>,
): void {
  const used = new Set(nodes.flatMap((node) => node.inputs));
  for (const name of rewritten) {
    if (!used.has(name) && !graph.outputs.some((o) => o.name === name)) {
      params.delete(name);
      values.delete(name);
    }
  }
}

export function quantizeDynamicInt8(
  graph: Graph,
  options: QuantizeOptions = {},
): { graph: Graph; provenance: PrecisionProvenance } {
  const qmax = options.reduceRange ? 63 : 127;
  const params = new Map(graph.params);
  const constants = new Map(graph.constants);
  const values = new Map(graph.values);
  const nodes: Node[] = [];
  const quantized = new Map<string, { q: string; scale: string }>();
  let floatMatMuls = 0;
  let count = 0;

  const addValue = (name: string, dtype: Value['dtype'], shape: Value['shape']): string => {
    if (values.has(name)) throw new Error(`quantize: value "${name}" already exists in graph ${graph.name}`);
    values.set(name, { name, dtype, shape });
    return name;
  };

  const step = (
    base: string,
    name: string,
    op: string,
    inputs: string[],
    outputs: string[],
    attrs: Node['attrs'] = {},
  ) => nodes.push({ name: `${base}.${name}`, op, domain: '', inputs, outputs, attrs });
  /** x → (uint8 codes, scale, zero point) per tensor, named after the MatMul and the side. */
  const quantizeActivation = (base: string, side: string, x: Value) => {
    const q = addValue(`${base}.${side}_q`, 'uint8', x.shape);
    const scale = addValue(`${base}.${side}_scale`, 'float32', []);
    const zero = addValue(`${base}.${side}_zero_point`, 'uint8', []);
    step(base, `quantize_${side}`, 'DynamicQuantizeLinear', [x.name], [q, scale, zero]);
    return { q, scale, zero };
  };
  /** int32 accumulator → float · scale, under the MatMul's own output name (every consumer reads it). */
  const dequantize = (base: string, acc: string, y: Value, scale: string) => {
    const accF = addValue(`${base}.acc_f`, 'float32', y.shape);
    step(base, 'cast', 'Cast', [acc], [accF], { to: 1 });
    step(base, 'dequantize', 'Mul', [accF, scale], [y.name]);
  };
  let activationMatMuls = 0;

  for (const node of graph.nodes) {
    const weight = frozenMatMulWeight(graph, node);
    const eligible = weight !== undefined && (options.include?.(node, weight) ?? true);
    const twoActivations =
      options.activationMatMuls === true &&
      node.op === 'MatMul' &&
      node.inputs.every((name) => !graph.params.has(name) && !graph.constants.has(name));
    if (twoActivations) {
      const base = `${node.name}.int8`;
      const y = values.get(node.outputs[0]!)!;
      const a = quantizeActivation(base, 'a', values.get(node.inputs[0]!)!);
      const b = quantizeActivation(base, 'b', values.get(node.inputs[1]!)!);
      const acc = addValue(`${base}.acc`, 'int32', y.shape);
      step(base, 'matmul', 'MatMulInteger', [a.q, b.q, a.zero, b.zero], [acc]);
      const scale = addValue(`${base}.scale`, 'float32', []);
      step(base, 'scale', 'Mul', [a.scale, b.scale], [scale]);
      dequantize(base, acc, y, scale);
      activationMatMuls++;
      continue;
    }
    if (!eligible) {
      if (node.op === 'MatMul') floatMatMuls++;
      nodes.push(node);
      continue;
    }
    let w = quantized.get(weight.name);
    if (!w) {
      const { q, scale } = quantizeColumns(weight.value, qmax);
      const qName = addValue(`${weight.name}.int8`, 'int8', q.dims);
      params.set(qName, { name: qName, value: q, role: 'frozen' });
      const sName = addValue(`${weight.name}.int8_scale`, 'float32', scale.dims);
      constants.set(sName, scale);
      w = { q: qName, scale: sName };
      quantized.set(weight.name, w);
    }
    const y = values.get(node.outputs[0]!)!;
    const base = `${node.name}.int8`;
    const x = quantizeActivation(base, 'x', values.get(node.inputs[0]!)!);
    const acc = addValue(`${base}.acc`, 'int32', y.shape);
    step(base, 'matmul', 'MatMulInteger', [x.q, w.q, x.zero], [acc]);
    const scale = addValue(`${base}.scale`, 'float32', values.get(w.scale)!.shape);
    step(base, 'scale', 'Mul', [x.scale, w.scale], [scale]);
    dequantize(base, acc, y, scale);
    count++;
  }

  dropUnreadWeights(graph, nodes, params, values, quantized.keys());
  return {
    graph: { ...graph, nodes, params, constants, values },
    provenance: {
      precision: 'int8',
      method: [
        INT8_METHOD,
        ...(options.reduceRange ? ['7-bit weights'] : []),
        ...(activationMatMuls
          ? [`${activationMatMuls} activation × activation MatMuls uint8 per tensor on both sides`]
          : []),
      ].join('; '),
      quantizedMatMuls: count + activationMatMuls,
      floatMatMuls,
      weights: [...quantized.keys()],
    },
  };
}
