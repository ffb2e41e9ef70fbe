import { createHash } from 'node:crypto';
import type { Backbone, BackboneCard, BackboneValues, BuildOptions, LoraTarget } from '../backbone/types.js';
import type { GraphBuilder, Value } from '../graph/index.js';
import { tensor } from '../graph/tensor.js';
import { Random } from '../util/random.js';

/**
 * A tiny real backbone for core's own tests (core may not import adapters): a stride-`patch`
 * convolution with ReLU, its map flattened as patch tokens and averaged as the embedding.
 */
export function tinyCnnBackbone(options: { dim?: number; patch?: number; seed?: number } = {}): Backbone {
  const dim = options.dim ?? 8;
  const patch = options.patch ?? 4;
  const rand = new Random(options.seed ?? 1);
  const weight = Float32Array.from({ length: dim * 3 * patch * patch }, () => rand.normal() * 0.3);
  const bias = Float32Array.from({ length: dim }, () => rand.normal() * 0.1);
  const card: BackboneCard = {
    name: 'tiny_cnn_test',
    family: 'cnn',
    architecture: 'TinyCnn',
    embedDim: dim,
    patchSize: patch,
    inputSize: [4 * patch, 4 * patch],
    mean: [0, 0, 0],
    std: [1, 1, 1],
    licence: 'test only',
    source: 'generated',
    weightFiles: [],
  };
  const weightHash = createHash('sha256')
    .update(new Uint8Array(weight.buffer))
    .update(new Uint8Array(bias.buffer))
    .digest('hex');
  const targets: LoraTarget[] = [];
  return {
    card,
    weightHash,
    loraTargets: () => targets,
    build(g: GraphBuilder, pixels: Value, opts: BuildOptions): BackboneValues {
      const [H, W] = opts.inputSize;
      const gh = H / patch;
      const gw = W / patch;
      const w = g.param('tiny.conv.weight', tensor('float32', [dim, 3, patch, patch], weight));
      const b = g.param('tiny.conv.bias', tensor('float32', [dim], bias));
      const map = g.op('Relu', [g.op('Conv', [pixels, w, b], { strides: [patch, patch] })]);
      const tokens = g.op('Transpose', [g.op('Reshape', [map, g.ints([0, dim, gh * gw])])], { perm: [0, 2, 1] });
      const cls = g.op('ReduceMean', [tokens], { axes: [1], keepdims: 0 });
      return { cls, patchTokens: tokens, grid: [gh, gw] };
    },
  };
}
