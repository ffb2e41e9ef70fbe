import type { Graph, Node, Param } from '@anymc3d/core/graph';
import { dropUnreadWeights, frozenMatMulWeight, tensor } from '@anymc3d/core/graph';

/**
 * The other integer route ONNX Runtime offers for weight MatMuls: com.microsoft MatMulNBits, weights
 * quantised per block of `block` values along K (symmetric, stored unsigned with the default zero
 * point 2^(bits−1)), and with `accuracyLevel` 4 the activations quantised to int8 per block too, so
 * the product runs on integer kernels. A bench alternative to core's per-tensor dynamic pass
 * (`quantizeDynamicInt8`), not a product path: bench/src/vit-int8.ts measures both.
 */
export interface NBitsOptions {
  bits: 4 | 8;
  block: number;
  /** 0: dequantise to fp32 and multiply in fp32; 4: int8 activations, integer products. */
  accuracyLevel: 0 | 4;
}

/** W [K, N] → B [N, K/block, blob] (per output column, blocks along K), scales [N · K/block]. */
export function packNBits(
  w: Float32Array,
  k: number,
  n: number,
  { bits, block }: Pick<NBitsOptions, 'bits' | 'block'>,
): { packed: Uint8Array; scales: Float32Array; blocks: number; blob: number } {
  const blocks = Math.ceil(k / block);
  const blob = (block * bits) / 8;
  const qmax = 2 ** (bits - 1) - 1;
  const zero = 2 ** (bits - 1);
  const packed = new Uint8Array(n * blocks * blob);
  const scales = new Float32Array(n * blocks);
  for (let c = 0; c < n; c++) {
    for (let b = 0; b < blocks; b++) {
      const end = Math.min(k, (b + 1) * block);
      let m = 0;
      for (let r = b * block; r < end; r++) m = Math.max(m, Math.abs(w[r * n + c]!));
      const scale = m > 0 ? m / qmax : 1;
      scales[c * blocks + b] = scale;
      for (let r = b * block; r < end; r++) {
        const code = Math.max(-qmax - 1, Math.min(qmax, Math.round(w[r * n + c]! / scale))) + zero;
        const j = r - b * block;
        const at = (c * blocks + b) * blob;
        // 4-bit codes: two per byte, the first in the low nibble.
        if (bits === 8) packed[at + j] = code;
        else packed[at + (j >> 1)]! |= j & 1 ? code << 4 : code;
      }
    }
  }
  return { packed, scales, blocks, blob };
}

/** Every MatMul by a frozen float32 [K, N] weight becomes one MatMulNBits node. */
export function withMatMulNBits(graph: Graph, options: NBitsOptions): { graph: Graph; converted: number } {
  const params = new Map(graph.params);
  const values = new Map(graph.values);
  const nodes: Node[] = [];
  const done = new Map<string, { packed: string; scales: string }>();
  let converted = 0;
  for (const node of graph.nodes) {
    const weight = frozenMatMulWeight(graph, node);
    if (!weight) {
      nodes.push(node);
      continue;
    }
    const [k, n] = weight.value.dims as [number, number];
    let names = done.get(weight.name);
    if (!names) {
      const { packed, scales, blocks, blob } = packNBits(weight.value.data as Float32Array, k, n, options);
      const add = (name: string, param: Param['value']) => {
        params.set(name, { name, value: param, role: 'frozen' });
        values.set(name, { name, dtype: param.dtype, shape: param.dims });
      };
      names = { packed: `${weight.name}.nbits`, scales: `${weight.name}.nbits_scales` };
      add(names.packed, tensor('uint8', [n, blocks, blob], packed));
      add(names.scales, tensor('float32', [n * blocks], scales));
      done.set(weight.name, names);
    }
    nodes.push({
      name: `${node.name}.nbits`,
      op: 'MatMulNBits',
      domain: 'com.microsoft',
      inputs: [node.inputs[0]!, names.packed, names.scales],
      outputs: node.outputs,
      attrs: { K: k, N: n, bits: options.bits, block_size: options.block, accuracy_level: options.accuracyLevel },
    });
    converted++;
  }
  dropUnreadWeights(graph, nodes, params, values, done.keys());
  return { graph: { ...graph, nodes, params, values }, converted };
}
