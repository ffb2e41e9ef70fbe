import type { Tensor } from '@anymc3d/core/graph';

/**
 * W [out, in…] + scale·B·A with A [r, in…] and B [out, r(,1,1)]: a LoRA adapter merged into the
 * frozen weight, the way PEFT's merge does, so tests can compare an adapted graph with plain
 * weights.
 */
export function mergeLora(w: Tensor, a: Tensor, b: Tensor, scale: number): Tensor {
  const [out, r] = [b.dims[0]!, b.dims[1]!];
  const inner = a.data.length / r;
  const data = Float32Array.from(w.data as Float32Array);
  for (let o = 0; o < out; o++)
    for (let i = 0; i < inner; i++) {
      let acc = 0;
      for (let k = 0; k < r; k++)
        acc += (b.data as Float32Array)[o * r + k]! * (a.data as Float32Array)[k * inner + i]!;
      data[o * inner + i]! += scale * acc;
    }
  return { ...w, data };
}
