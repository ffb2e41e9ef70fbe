import { type Backbone, type LoraConfig, requirePatchTokens } from '../backbone/index.js';
import {
  buildGradientGraph,
  type Device,
  type Graph,
  GraphBuilder,
  gradName,
  OnnxSession,
  seedName,
  type Tensor,
  tensor,
  toOnnx,
  type Value,
} from '../graph/index.js';
import { diceBceLoss } from '../plugin/losses.js';
import { addViewQueries, multiViewHead } from '../plugin/multi-view.js';
import {
  classificationLoss,
  type PluginSpec,
  type PluginWeights,
  pluginHead,
  pluginParams,
} from '../plugin/plugin-graph.js';
import { initSegDecoder, SEG_PARAMS, segDecoder } from '../plugin/seg-decoder.js';
import type { BatchGradient } from './loop.js';

/** One view of a volume: backbone-ready pixels [slices,3,H,W]. */
export interface VolumeView {
  pixels: Float32Array;
  slices: number;
}

/** Which use of a case a load is for: the optimiser step, micro-batch and place in it (seeds augmentation). */
export interface CaseUse {
  step: number;
  micro: number;
  slot: number;
}

/** One volume for LoRA training: its first view (pixels, slices), labels, and optionally more. */
export interface VolumeCase extends VolumeView {
  id: string;
  labels: readonly number[];
  /** Further views of a multi-view task (views 1…V−1). */
  moreViews?: VolumeView[];
  /** Segmentation target of the first view at the token grid [slices, gh, gw] (patch area fractions). */
  segMask?: Float32Array;
  /**
   * Whether the case has a `segMask`, for on-demand cases whose mask is read by `load`: the trainer
   * counts a micro-batch's masked cases (the seg loss is their mean) before loading them.
   */
  hasSegMask?: boolean;
  /**
   * For cases read from disk on demand (a training set too large to hold as network input):
   * awaited right before the case is used, after which `pixels`, `slices`, `moreViews` and `segMask` must be
   * readable until the case is used. Pixel getters are synchronous and file reads are not, so the
   * trainer gives the case this chance to read itself.
   */
  load?: (use?: CaseUse) => Promise<void>;
  /**
   * Stands in for the pixels in the resume key (e.g. file path, size, mtime and preprocessing), so
   * that checking a checkpoint belongs to this data does not read every on-demand case first.
   */
  contentKey?: string;
}

export interface LoraTrainerOptions {
  inputSize: [number, number];
  lora: LoraConfig;
  plugin: PluginWeights;
  /**
   * Slices per recompute chunk. Unset: one graph holds the whole case (all activations at once).
   * Set: forward every chunk without keeping activations, pool/head/loss once, then recompute
   * each chunk with its upstream gradient — the same gradients, peak memory set by the chunk.
   */
  chunk?: number;
  /** Views per case (default 1): each view has its own LoRA and query, fused by a second query. */
  views?: number;
  /** The train-only auxiliary segmentation decoder: hidden channels, loss weight λ. */
  seg?: { hidden: number; lambda: number; seed?: number };
  threads?: number;
  /** Where the forward and gradient graphs run (default cpu); ops without a CUDA kernel fall back to the CPU. */
  device?: Device;
}

const TRAIN_SESSION = (threads?: number, device?: Device) => ({
  memoryPattern: false,
  ...(threads ? { threads } : {}),
  ...(device ? { device } : {}),
});

/**
 * The trained backbone on a `pixels` input [S,3,H,W] in `g`, for every training graph. Without the
 * auxiliary decoder's patch tokens the loss reads CLS alone, so a ViT skips most of its last block
 * in the forward and in the gradient.
 */
function trainedBackbone(
  g: GraphBuilder,
  backbone: Backbone,
  o: LoraTrainerOptions,
  withPatches: boolean,
): { cls: Value; patches?: Value } {
  const [h, w] = o.inputSize;
  const pixels = g.input('pixels', 'float32', ['S', 3, h, w]);
  const out = backbone.build(g, pixels, { inputSize: o.inputSize, lora: o.lora, patchTokens: withPatches });
  return { cls: out.cls, ...(withPatches ? { patches: requirePatchTokens(backbone, out) } : {}) };
}

function backboneGraph(backbone: Backbone, o: LoraTrainerOptions, withPatches: boolean): Graph {
  const g = new GraphBuilder('backbone.cls');
  const { cls, patches } = trainedBackbone(g, backbone, o, withPatches);
  g.output(cls, 'cls');
  if (patches) g.output(patches, 'patches');
  return g.build();
}

function headGraph(
  spec: PluginSpec,
  plugin: PluginWeights,
  tokens?: (g: GraphBuilder) => ReturnType<GraphBuilder['input']>,
) {
  const g = new GraphBuilder('plugin.head');
  const t = tokens ? tokens(g) : g.input('tokens', 'float32', [1, 'S', spec.dim]);
  const labels = g.input('labels', 'float32', [1, spec.labels.length]);
  const weight = g.input('weight', 'float32', [1]);
  const { logits } = pluginHead(g, t, undefined, plugin);
  g.output(classificationLoss(g, spec, logits, labels, weight), 'loss');
  return g;
}

/** The chunked head graph: per-view tokens (+ patch volume and mask) → L_cls (+ λ·L_seg). */
function chunkedHeadGraph(
  spec: PluginSpec,
  plugin: PluginWeights,
  views: number,
  grid: [number, number],
  o: LoraTrainerOptions,
) {
  const g = new GraphBuilder('plugin.head');
  const tokens = Array.from({ length: views }, (_, v) => g.input(`tokens${v}`, 'float32', [1, `S${v}`, spec.dim]));
  const labels = g.input('labels', 'float32', [1, spec.labels.length]);
  const weight = g.input('weight', 'float32', [1]);
  const { logits } = views === 1 ? pluginHead(g, tokens[0]!, undefined, plugin) : multiViewHead(g, tokens, plugin);
  let loss = classificationLoss(g, spec, logits, labels, weight);
  if (o.seg) {
    const patches = g.input('patches', 'float32', [1, 'S0', grid[0] * grid[1], spec.dim]);
    const mask = g.input('segMask', 'float32', [1, 1, 'S0', grid[0], grid[1]]);
    const segWeight = g.input('segWeight', 'float32', [1]);
    const segLogits = segDecoder(g, patches, grid, pluginParams(g, plugin, SEG_PARAMS));
    const seg = diceBceLoss(g, segLogits, mask, segWeight);
    loss = g.op('Add', [loss, g.op('Mul', [seg, g.scalar(o.seg.lambda)])]);
  }
  g.output(loss, 'loss');
  return g.build();
}

/**
 * LoRA + plugin training through a backbone. Cases are processed one at a time (a volume's
 * slices are its batch), so any slice count works; micro-batches sum per-case gradients.
 */
export class LoraTrainer {
  readonly params = new Map<string, Tensor>();
  readonly groups = new Map<string, string>();

  private constructor(
    private readonly spec: PluginSpec,
    private readonly options: LoraTrainerOptions,
    private readonly sessions: {
      oneShot?: OnnxSession;
      forward?: OnnxSession;
      forwardSeg?: OnnxSession;
      head?: OnnxSession;
      vjp?: OnnxSession;
      vjpSeg?: OnnxSession;
    },
    private readonly loraNames: string[],
    private readonly headNames: string[],
    private readonly grid: [number, number],
  ) {}

  private get views(): number {
    return this.options.views ?? 1;
  }

  /** The params-map name of view v's copy of LoRA tensor `name` (the graph input's own name for one view). */
  private loraKey(view: number, name: string): string {
    return this.views === 1 ? name : `view${view}.${name}`;
  }

  static async create(backbone: Backbone, spec: PluginSpec, options: LoraTrainerOptions): Promise<LoraTrainer> {
    const views = options.views ?? 1;
    const fwd = backboneGraph(backbone, options, false);
    const loraNames = [...fwd.params.values()].filter((p) => p.role === 'trainable').map((p) => p.name);
    const grid: [number, number] = [options.inputSize[0], options.inputSize[1]].map(
      (n) => n / (backbone.card.patchSize ?? 1),
    ) as [number, number];
    let plugin = views > 1 ? addViewQueries(options.plugin, views, options.lora.seed) : options.plugin;
    if (options.seg) {
      plugin = new Map([
        ...plugin,
        ...initSegDecoder(spec.dim, options.seg.hidden, options.seg.seed ?? options.lora.seed),
      ]);
    }
    const headNames = [...plugin.keys()];
    const sessionOptions = TRAIN_SESSION(options.threads, options.device);
    const engine = {
      ...(options.threads ? { threads: options.threads } : {}),
      ...(options.device ? { device: options.device } : {}),
    };
    let sessions: LoraTrainer['sessions'];
    if (options.chunk || views > 1 || options.seg) {
      const head = chunkedHeadGraph(spec, plugin, views, grid, options);
      const tokenInputs = Array.from({ length: views }, (_, v) => `tokens${v}`);
      sessions = {
        forward: await OnnxSession.create(toOnnx(fwd), engine),
        head: await OnnxSession.create(
          toOnnx(
            buildGradientGraph(head, {
              loss: 'loss',
              wrt: [...headNames, ...tokenInputs, ...(options.seg ? ['patches'] : [])],
            }),
          ),
          sessionOptions,
        ),
        vjp: await OnnxSession.create(
          toOnnx(buildGradientGraph(fwd, { seeds: ['cls'], wrt: loraNames })),
          sessionOptions,
        ),
      };
      if (options.seg) {
        const fwdSeg = backboneGraph(backbone, options, true);
        sessions.forwardSeg = await OnnxSession.create(toOnnx(fwdSeg), engine);
        sessions.vjpSeg = await OnnxSession.create(
          toOnnx(buildGradientGraph(fwdSeg, { seeds: ['cls', 'patches'], wrt: loraNames })),
          sessionOptions,
        );
      }
    } else {
      const g = headGraph(spec, plugin, (b) =>
        b.op('Unsqueeze', [trainedBackbone(b, backbone, options, false).cls, b.ints([0])]),
      );
      sessions = {
        oneShot: await OnnxSession.create(
          toOnnx(buildGradientGraph(g.build(), { loss: 'loss', wrt: [...loraNames, ...headNames] })),
          sessionOptions,
        ),
      };
    }
    const trainer = new LoraTrainer(spec, options, sessions, loraNames, headNames, grid);
    for (let v = 0; v < views; v++) {
      for (const p of fwd.params.values()) {
        if (p.role !== 'trainable') continue;
        const key = trainer.loraKey(v, p.name);
        trainer.params.set(key, { ...p.value, data: Float32Array.from(p.value.data as Float32Array) });
        trainer.groups.set(key, 'lora');
      }
    }
    for (const [name, t] of plugin) {
      trainer.params.set(name, t);
      trainer.groups.set(name, 'head');
    }
    return trainer;
  }

  private feeds(names: readonly string[]): Record<string, Tensor> {
    const out: Record<string, Tensor> = {};
    for (const n of names) out[n] = this.params.get(n)!;
    return out;
  }

  private loraFeeds(view: number): Record<string, Tensor> {
    const out: Record<string, Tensor> = {};
    for (const n of this.loraNames) out[n] = this.params.get(this.loraKey(view, n))!;
    return out;
  }

  /** Loss and gradients of one case scaled by `weight` (`segWeight` for its seg loss). */
  async caseGradient(
    c: VolumeCase,
    weight: number,
    segWeight = weight,
  ): Promise<{ loss: number; grads: Map<string, Float32Array> }> {
    const [h, w] = this.options.inputSize;
    const labels = tensor('float32', [1, this.spec.labels.length], Float32Array.from(c.labels));
    const weightT = tensor('float32', [1], [weight]);
    const grads = new Map<string, Float32Array>();
    if (this.sessions.oneShot) {
      const out = await this.sessions.oneShot.run({
        pixels: tensor('float32', [c.slices, 3, h, w], c.pixels),
        labels,
        weight: weightT,
        ...this.feeds([...this.loraNames, ...this.headNames]),
      });
      for (const n of [...this.loraNames, ...this.headNames]) grads.set(n, out[gradName(n)]!.data as Float32Array);
      return { loss: Number(out['out.loss']!.data[0]), grads };
    }
    const chunk = this.options.chunk ?? 16;
    const per = 3 * h * w;
    const d = this.spec.dim;
    const P = this.grid[0] * this.grid[1];
    const views = [c, ...(c.moreViews ?? [])];
    if (views.length !== this.views)
      throw new Error(`case ${c.id} has ${views.length} views, the task has ${this.views}`);
    const seg = !!this.options.seg;
    const slicePixels = (view: VolumeView, s0: number, s1: number) =>
      tensor('float32', [s1 - s0, 3, h, w], view.pixels.subarray(s0 * per, s1 * per));
    const headFeeds: Record<string, Tensor> = { labels, weight: weightT, ...this.feeds(this.headNames) };
    const patches = seg ? new Float32Array(c.slices * P * d) : undefined;
    for (let v = 0; v < views.length; v++) {
      const view = views[v]!;
      const tokens = new Float32Array(view.slices * d);
      const withPatches = seg && v === 0;
      for (let s0 = 0; s0 < view.slices; s0 += chunk) {
        const s1 = Math.min(view.slices, s0 + chunk);
        const session = withPatches ? this.sessions.forwardSeg! : this.sessions.forward!;
        const out = await session.run(
          { pixels: slicePixels(view, s0, s1), ...this.loraFeeds(v) },
          withPatches ? ['cls', 'patches'] : ['cls'],
        );
        tokens.set(out.cls!.data as Float32Array, s0 * d);
        if (withPatches) patches!.set(out.patches!.data as Float32Array, s0 * P * d);
      }
      headFeeds[`tokens${v}`] = tensor('float32', [1, view.slices, d], tokens);
    }
    if (seg) {
      headFeeds.patches = tensor('float32', [1, c.slices, P, d], patches!);
      headFeeds.segMask = tensor(
        'float32',
        [1, 1, c.slices, this.grid[0], this.grid[1]],
        c.segMask ?? new Float32Array(c.slices * P),
      );
      headFeeds.segWeight = tensor('float32', [1], [c.segMask ? segWeight : 0]);
    }
    const head = await this.sessions.head!.run(headFeeds);
    for (const n of this.headNames) grads.set(n, head[gradName(n)]!.data as Float32Array);
    for (let v = 0; v < views.length; v++) {
      const view = views[v]!;
      const dTokens = head[gradName(`tokens${v}`)]!.data as Float32Array;
      const dPatches = seg && v === 0 ? (head[gradName('patches')]!.data as Float32Array) : undefined;
      const acc = this.loraNames.map((n) => {
        const a = new Float32Array(this.params.get(this.loraKey(v, n))!.data.length);
        grads.set(this.loraKey(v, n), a);
        return a;
      });
      for (let s0 = 0; s0 < view.slices; s0 += chunk) {
        const s1 = Math.min(view.slices, s0 + chunk);
        const feeds: Record<string, Tensor> = {
          pixels: slicePixels(view, s0, s1),
          [seedName('cls')]: tensor('float32', [s1 - s0, d], dTokens.subarray(s0 * d, s1 * d)),
          ...this.loraFeeds(v),
        };
        if (dPatches)
          feeds[seedName('patches')] = tensor('float32', [s1 - s0, P, d], dPatches.subarray(s0 * P * d, s1 * P * d));
        const out = await (dPatches ? this.sessions.vjpSeg! : this.sessions.vjp!).run(feeds);
        this.loraNames.forEach((n, k) => {
          const g = out[gradName(n)]!.data as Float32Array;
          const a = acc[k]!;
          for (let i = 0; i < g.length; i++) a[i] = a[i]! + g[i]!;
        });
      }
    }
    return { loss: Number(head['out.loss']!.data[0]), grads };
  }

  /** A gradient function for `runTraining` over `cases`. */
  gradient(cases: readonly VolumeCase[]): BatchGradient {
    return async (indices, weights, at) => {
      let loss = 0;
      const total = new Map<string, Float32Array>();
      // The seg loss is a mean over the micro-batch's cases that have masks.
      const masked = indices.filter((i) => cases[i]!.hasSegMask ?? !!cases[i]!.segMask).length;
      for (let k = 0; k < indices.length; k++) {
        const segWeight = masked ? (weights[k]! * indices.length) / masked : 0;
        const c = cases[indices[k]!]!;
        await c.load?.({ ...at, slot: k });
        const r = await this.caseGradient(c, weights[k]!, segWeight);
        loss += r.loss;
        for (const [n, g] of r.grads) {
          const acc = total.get(n);
          if (!acc) total.set(n, Float32Array.from(g));
          else for (let i = 0; i < g.length; i++) acc[i] = acc[i]! + g[i]!;
        }
      }
      return { loss, grads: total };
    };
  }

  async release(): Promise<void> {
    for (const s of Object.values(this.sessions)) await s?.release();
  }
}
