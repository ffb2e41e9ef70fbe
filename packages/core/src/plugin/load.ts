import { join } from 'node:path';
import type { Backbone } from '../backbone/index.js';
import { GraphBuilder, OnnxSession, type Tensor, tensor, toOnnx } from '../graph/index.js';
import { InputError } from '../util/errors.js';
import type { PluginCard } from './card.js';
import { multiViewHead } from './multi-view.js';
import { pluginHead } from './plugin-graph.js';
import { readPlugin } from './store.js';

export interface Prediction {
  /** Per label: sigmoid (multi-label) or softmax (multi-class) probability. */
  probabilities: number[];
  /** Pooling weight of each slice (the slice importance used for heatmaps). */
  sliceWeights: number[];
  /** Multi-view plugins: the fusion weight of each view, and each view's slice weights (view 0's are `sliceWeights`). */
  views?: { weight: number; sliceWeights: number[] }[];
}

export interface LoadedPlugin {
  card: PluginCard;
  weights: Map<string, Tensor>;
  /** From CLS tokens [slices, d] (cached features). */
  predictTokens(tokens: Float32Array, slices: number): Promise<Prediction>;
  /** From CLS tokens of every view, in the card's view order (one entry for a single-view plugin). */
  predictViews(views: readonly { tokens: Float32Array; slices: number }[]): Promise<Prediction>;
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
  const V = card.views.length;
  const engine = options.threads ? { threads: options.threads } : {};
  const hg = new GraphBuilder('plugin.predict');
  const inputs = Array.from({ length: V }, (_, v) => hg.input(`tokens${v}`, 'float32', [1, `S${v}`, card.dim]));
  const head =
    V === 1
      ? { ...pluginHead(hg, inputs[0]!, undefined, weights), viewWeights: undefined }
      : (() => {
          const h = multiViewHead(hg, inputs, weights);
          return {
            logits: h.logits,
            sliceWeights: h.sliceWeights[0]!,
            viewWeights: h.viewWeights,
            all: h.sliceWeights,
          };
        })();
  hg.output(
    hg.op(
      card.kind === 'multiclass' ? 'Softmax' : 'Sigmoid',
      [head.logits],
      card.kind === 'multiclass' ? { axis: 1 } : {},
    ),
    'probabilities',
  );
  const perView = 'all' in head ? head.all : [head.sliceWeights];
  perView.forEach((w, v) => {
    hg.output(w, `sliceWeights${v}`);
  });
  if (head.viewWeights) hg.output(head.viewWeights, 'viewWeights');
  const session = await OnnxSession.create(toOnnx(hg.build()), engine);
  const headFeeds: Record<string, Tensor> = {};
  for (const [k, v] of weights) if (k.startsWith('plugin.')) headFeeds[k] = v;
  const predictViews = async (views: readonly { tokens: Float32Array; slices: number }[]): Promise<Prediction> => {
    if (views.length !== V)
      throw new InputError(
        join(dir, 'plugin.json'),
        `the plugin takes ${V} views (${card.views.join(', ')}), got ${views.length}`,
      );
    const feeds: Record<string, Tensor> = { ...headFeeds };
    views.forEach((t, v) => {
      feeds[`tokens${v}`] = tensor('float32', [1, t.slices, card.dim], t.tokens);
    });
    const out = await session.run(feeds);
    const slice = (v: number) => Array.from(out[`sliceWeights${v}`]!.data as Float32Array);
    const prediction: Prediction = {
      probabilities: Array.from(out.probabilities!.data as Float32Array),
      sliceWeights: slice(0),
    };
    if (V > 1) {
      const vw = out.viewWeights!.data as Float32Array;
      prediction.views = views.map((_, v) => ({ weight: vw[v]!, sliceWeights: slice(v) }));
    }
    return prediction;
  };
  const predictTokens = (t: Float32Array, slices: number): Promise<Prediction> => predictViews([{ tokens: t, slices }]);
  let cls: OnnxSession | undefined;
  const loraFeeds: Record<string, Tensor> = {};
  for (const [k, v] of weights) if (k.startsWith('lora.')) loraFeeds[k] = v;
  return {
    card,
    weights,
    predictTokens,
    predictViews,
    async predict(pixels, slices) {
      if (V > 1) throw new Error('a multi-view plugin predicts from per-view tokens (predictViews)');
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
      await session.release();
      await cls?.release();
    },
  };
}
