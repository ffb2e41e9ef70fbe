import { type GraphBuilder, type Tensor, tensor, type Value } from '@anymc3d/core/graph';

/**
 * DINOv3's 2D rotary position embedding (HF `DINOv3ViTRopePositionEmbedding`, inference mode):
 * patch centres normalised to [-1, 1] per axis, angle 2π·coord·θ^(-4j/hd) for j < hd/4, the y
 * angles then the x angles fill half a head, tiled twice; rotation by the rotate-half convention.
 * Only patch tokens rotate: the CLS and register rows are the identity (cos 1, sin 0).
 */
export interface RopeTables {
  /** [T, hd] */
  cos: Tensor;
  /** [T, hd]: sin with the rotate-half sign folded in (−sin on the first half, +sin on the second). */
  sinSigned: Tensor;
}

export function ropeTables(
  grid: readonly [number, number],
  headDim: number,
  theta: number,
  prefix: number,
): RopeTables {
  const [gh, gw] = grid;
  const quarter = headDim / 4;
  const half = headDim / 2;
  const T = prefix + gh * gw;
  const cos = new Float32Array(T * headDim);
  const sin = new Float32Array(T * headDim);
  for (let t = 0; t < prefix; t++) cos.fill(1, t * headDim, (t + 1) * headDim);
  // HF builds the inverse frequencies in float32; rounding them the same way keeps the angles identical.
  const invFreq = Array.from({ length: quarter }, (_, j) => Math.fround(1 / theta ** Math.fround((4 * j) / headDim)));
  for (let i = 0; i < gh; i++) {
    const y = (2 * (i + 0.5)) / gh - 1;
    for (let j = 0; j < gw; j++) {
      const x = (2 * (j + 0.5)) / gw - 1;
      const row = (prefix + i * gw + j) * headDim;
      for (let k = 0; k < half; k++) {
        const angle = 2 * Math.PI * (k < quarter ? y * invFreq[k]! : x * invFreq[k - quarter]!);
        const [c, s] = [Math.cos(angle), Math.sin(angle)];
        cos[row + k] = c;
        cos[row + half + k] = c;
        sin[row + k] = -s;
        sin[row + half + k] = s;
      }
    }
  }
  return { cos: tensor('float32', [T, headDim], cos), sinSigned: tensor('float32', [T, headDim], sin) };
}

/**
 * x·cos + rotate_half(x)·sin for x [N, H, T, hd], with rotate_half(x)·sin written as
 * [x₂, x₁]·[−sin, sin] (a swap of the two halves by Slice/Concat, the sign in the table).
 */
export function applyRope(g: GraphBuilder, x: Value, headDim: number, cos: Value, sinSigned: Value): Value {
  const half = headDim / 2;
  const axis = g.ints([3]);
  const x1 = g.op('Slice', [x, g.ints([0]), g.ints([half]), axis]);
  const x2 = g.op('Slice', [x, g.ints([half]), g.ints([headDim]), axis]);
  const swapped = g.op('Concat', [x2, x1], { axis: 3 });
  return g.op('Add', [g.op('Mul', [x, cos]), g.op('Mul', [swapped, sinSigned])]);
}
