import { type GraphBuilder, tensor, type Value } from '../graph/index.js';
import { Random } from '../util/random.js';
import type { PluginWeights } from './plugin-graph.js';

/**
 * The train-only auxiliary segmentation decoder (METHOD.md §3): the last block's patch tokens of
 * every slice, stacked along the slice axis, form a pseudo-3D token volume [1,d,S,gh,gw]; a light
 * 3D decoder (3×3×3 conv → ReLU → 1×1×1 conv) maps it to voxel logits on the token grid. Masks are
 * compared at that grid (area fraction of each patch). Dropped at inference.
 */
export const SEG_PARAMS = [
  'plugin.seg.conv1.weight',
  'plugin.seg.conv1.bias',
  'plugin.seg.conv2.weight',
  'plugin.seg.conv2.bias',
];

export function initSegDecoder(dim: number, hidden: number, seed: number): PluginWeights {
  const r = Random.fromString(seed, 'seg');
  const u = (n: number, fanIn: number) => Float32Array.from({ length: n }, () => r.uniform(-1, 1) / Math.sqrt(fanIn));
  return new Map([
    [SEG_PARAMS[0]!, tensor('float32', [hidden, dim, 3, 3, 3], u(hidden * dim * 27, dim * 27))],
    [SEG_PARAMS[1]!, tensor('float32', [hidden], u(hidden, dim * 27))],
    [SEG_PARAMS[2]!, tensor('float32', [1, hidden, 1, 1, 1], u(hidden, hidden))],
    [SEG_PARAMS[3]!, tensor('float32', [1], u(1, hidden))],
  ]);
}

/** patchTokens [1,S,P,d] with P = gh·gw → voxel logits [1,1,S,gh,gw]. */
export function segDecoder(
  g: GraphBuilder,
  patchTokens: Value,
  grid: [number, number],
  params: readonly Value[],
): Value {
  const d = patchTokens.shape[3] as number;
  const vol = g.op('Reshape', [
    g.op('Transpose', [patchTokens], { perm: [0, 3, 1, 2] }),
    g.ints([1, d, -1, grid[0], grid[1]]),
  ]);
  const h = g.op('Relu', [g.op('Conv', [vol, params[0]!, params[1]!], { pads: [1, 1, 1, 1, 1, 1] })]);
  return g.op('Conv', [h, params[2]!, params[3]!]);
}
