import { join } from 'node:path';
import { BackboneEmbedder } from '../backbone/embedder.js';
import type { Backbone } from '../backbone/index.js';
import { type Device, GraphBuilder, OnnxSession, type Precision, type Tensor, tensor, toOnnx } from '../graph/index.js';
import { InputError } from '../util/errors.js';
import { type PluginCard, servedPrecision } from './card.js';
import { multiViewHead } from './multi-view.js';
import { pluginHead } from './plugin-graph.js';
import { readPlugin } from './store.js';
import { viewLoraWeights } from './view-lora.js';

export interface Prediction {
  /**
   * Per label: sigmoid (multi-label) or softmax (multi-class, summing to 1) probability, computed in
   * float64 from the logits, so outputs keep their ranking far past where float32 saturates at 0 or 1.
   */
  probabilities: number[];
  /** The head's logits, per label. */
  logits: number[];
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

export interface LoadPluginOptions {
  threads?: number;
  /** Slices per backbone run in `predict` (default 16). */
  chunk?: number;
  /** Where `predict` runs the backbone (default cpu); the small head always runs on the CPU. */
  device?: Device;
  /**
   * `predict`'s backbone precision: 'int8' quantises a frozen plugin's backbone (refused with LoRA).
   * Default: the arithmetic of the tokens the plugin was trained on (its card's `backbone.precision`).
   */
  precision?: Precision;
}

/** Loads a plugin for `backbone`, refusing one trained on other backbone weights. */
export async function loadPlugin(
  dir: string,
  backbone: Backbone | { name: string; weightHash: string },
  options: LoadPluginOptions = {},
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
  hg.output(head.logits, 'logits');
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
    const logits = Array.from(out.logits!.data as Float32Array);
    const prediction: Prediction = {
      probabilities: probabilitiesOf(logits, card.kind),
      logits,
      sliceWeights: slice(0),
    };
    if (V > 1) {
      const vw = out.viewWeights!.data as Float32Array;
      prediction.views = views.map((_, v) => ({ weight: vw[v]!, sliceWeights: slice(v) }));
    }
    return prediction;
  };
  const predictTokens = (t: Float32Array, slices: number): Promise<Prediction> => predictViews([{ tokens: t, slices }]);
  // One adapted-backbone path for every consumer: the plugin's LoRA baked in, or the frozen backbone.
  let embedder: BackboneEmbedder | undefined;
  const precision = servedPrecision(card, options.precision);
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
      embedder ??= new BackboneEmbedder(backbone, {
        ...(card.lora ? { lora: { ...card.lora, weights: viewLoraWeights(1, weights, 0) } } : {}),
        source: join(dir, 'plugin.json'),
        batchSize: options.chunk ?? 16,
        ...engine,
        ...(options.device ? { device: options.device } : {}),
        precision,
      });
      // The CLS tokens alone: a prediction needs neither patch tokens nor attention.
      const cls = await embedder.cls(tensor('float32', [slices, 3, h, w], pixels.subarray(0, slices * 3 * h * w)));
      return predictTokens(cls.data as Float32Array, slices);
    },
    async release() {
      await session.release();
      await embedder?.release();
    },
  };
}

/** Probabilities from logits in float64: softmax for multi-class (they sum to 1), sigmoid per label otherwise. */
export function probabilitiesOf(logits: readonly number[], kind: PluginCard['kind']): number[] {
  if (kind !== 'multiclass') return logits.map((z) => 1 / (1 + Math.exp(-z)));
  const max = Math.max(...logits);
  const e = logits.map((z) => Math.exp(z - max));
  const sum = e.reduce((a, b) => a + b, 0);
  return e.map((x) => x / sum);
}
