import { join } from 'node:path';
import type { Backbone } from '../backbone/index.js';
import { GraphBuilder, OnnxSession, type Tensor, tensor, toOnnx } from '../graph/index.js';
import { InputError } from '../util/errors.js';
import type { PluginCard } from './card.js';
import { pluginHead } from './plugin-graph.js';
import { readPlugin } from './store.js';

export interface Prediction {
  /** Per label: sigmoid (multi-label) or softmax (multi-class) probability. */
  probabilities: number[];
  /** Pooling weight of each slice (the slice importance used for heatmaps). */
  sliceWeights: number[];
}

export interface LoadedPlugin {
  card: PluginCard;
  weights: Map<string, Tensor>;
  /** From CLS tokens [slices, d] (cached features). */
  predictTokens(tokens: Float32Array, slices: number): Promise<Prediction>;
  /** From backbone-ready pixels [slices,3,H,W]; needs the Backbone the plugin was trained on. */
  predict(pixels: Float32Array, slices: number): Promise<Prediction>;
  release(): Promise<void>;
}

/** Loads a plugin for `backbone`, refusing one trained on other backbone weights. */
export async function loadPlugin(
  dir: string,
  backbone: Backbone | { name: string; weightHash: string },
  options: { threads?: number; chunk?: number } = {},
): Promise<LoadedPlugin> {
  const id = 'card' in backbone ? { name: backbone.card.name, weightHash: backbone.weightHash } : backbone;
  const { card, weights } = await readPlugin(dir, id);
  if (card.views.length > 1) {
    throw new InputError(
      join(dir, 'plugin.json'),
      `multi-view plugins (${card.views.join(', ')}) cannot be loaded for prediction yet`,
    );
  }
  const engine = options.threads ? { threads: options.threads } : {};
  const hg = new GraphBuilder('plugin.predict');
  const tokens = hg.input('tokens', 'float32', [1, 'S', card.dim]);
  const { logits, sliceWeights } = pluginHead(hg, tokens, undefined, weights);
  hg.output(
    hg.op(card.kind === 'multiclass' ? 'Softmax' : 'Sigmoid', [logits], card.kind === 'multiclass' ? { axis: 1 } : {}),
    'probabilities',
  );
  hg.output(sliceWeights, 'sliceWeights');
  const head = await OnnxSession.create(toOnnx(hg.build()), engine);
  const headFeeds: Record<string, Tensor> = {};
  for (const [k, v] of weights) if (k.startsWith('plugin.')) headFeeds[k] = v;
  const predictTokens = async (t: Float32Array, slices: number): Promise<Prediction> => {
    const out = await head.run({ tokens: tensor('float32', [1, slices, card.dim], t), ...headFeeds });
    return {
      probabilities: Array.from(out.probabilities!.data as Float32Array),
      sliceWeights: Array.from(out.sliceWeights!.data as Float32Array),
    };
  };
  let cls: OnnxSession | undefined;
  const loraFeeds: Record<string, Tensor> = {};
  for (const [k, v] of weights) if (k.startsWith('lora.')) loraFeeds[k] = v;
  return {
    card,
    weights,
    predictTokens,
    async predict(pixels, slices) {
      if (!('card' in backbone))
        throw new Error('predict needs the Backbone itself; predictTokens works from cached tokens');
      const [h, w] = card.inputSize;
      if (!cls) {
        const g = new GraphBuilder('backbone.cls');
        const input = g.input('pixels', 'float32', ['S', 3, h, w]);
        const lora = card.lora ? { rank: card.lora.rank, alpha: card.lora.alpha, seed: 0, group: 'lora' } : undefined;
        g.output(backbone.build(g, input, { inputSize: card.inputSize, ...(lora ? { lora } : {}) }).cls, 'cls');
        cls = await OnnxSession.create(toOnnx(g.build()), engine);
      }
      const chunk = options.chunk ?? 16;
      const per = 3 * h * w;
      const t = new Float32Array(slices * card.dim);
      for (let s0 = 0; s0 < slices; s0 += chunk) {
        const s1 = Math.min(slices, s0 + chunk);
        const out = await cls.run(
          { pixels: tensor('float32', [s1 - s0, 3, h, w], pixels.subarray(s0 * per, s1 * per)), ...loraFeeds },
          ['cls'],
        );
        t.set(out.cls!.data as Float32Array, s0 * card.dim);
      }
      return predictTokens(t, slices);
    },
    async release() {
      await head.release();
      await cls?.release();
    },
  };
}
